"""CN over SyncBN in 2 and 3 real gloo processes equals single-process CN,
on every CN backend.

Each world size is one launch of ``sync_cn_worker.py`` (CPU tensors, gloo,
one thread per rank) that runs every case of ``sync_cn_cases`` once per
backend (``CN_SEG_BACKEND`` = ``cpu``, ``aten``, ``triton``: the Triton
kernels under ``TRITON_INTERPRET=1``): shuffled domains, unequal per-rank
counts, a rank without a domain, a domain absent on every rank, an empty
rank, and a DDP training step. ``sync_cn_checks`` holds the references
(single-process CN and plain per-domain BN on the concatenated global batch)
and how each quantity is compared. Tolerances: float64 rtol 1e-9, atol 1e-10
(the ranks' partial sums are added in another order than the reference's);
float32 rtol = atol = 2e-5.
"""
import pytest
import sync_cn_cases as cases
import sync_cn_checks as checks

UNAVAILABLE = checks.unavailable_backends()
BACKENDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            reason is not None, reason=f'backend {name}: {reason}'))
    for name, reason in UNAVAILABLE.items()
]
CASE_IDS = [(world, name) for world in sorted(cases.CASES)
            for name in cases.CASES[world]]


@pytest.fixture(scope='module')
def dist_results(tmp_path_factory):
    """Per world size, every rank's saved results on each available backend
    (one launch per world size)."""
    runs = {}
    available = [name for name, why in UNAVAILABLE.items() if why is None]

    def get(world, backend):
        if world not in runs:
            runs[world] = checks.run_workers(
                tmp_path_factory.mktemp(f'sync_cn_{world}_ranks'),
                world,
                cn_backends=available)
        results = runs[world][backend]
        checks.check_backend(results, backend)
        return results

    return get


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize(
    'world,name', CASE_IDS, ids=[f'{w}ranks-{n}' for w, n in CASE_IDS])
def test_equals_single_process_on_global_batch(dist_results, backend, world,
                                               name):
    checks.check_case(dist_results(world, backend), world, name)


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('world', sorted(cases.MODEL_CASES))
def test_ddp_training_step_equals_single_process(dist_results, backend, world):
    """DDP averages the ranks' local parameter gradients: each rank holds the
    single-process gradient of the summed loss divided by world_size, and one
    SGD step leaves identical parameters on every rank."""
    checks.check_model(dist_results(world, backend), world)


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('world', sorted(cases.CASES))
def test_one_collective_per_layer_for_any_number_of_domains(
        dist_results, backend, world):
    """Counted by wrapping torch.distributed's collectives in each rank."""
    checks.check_counts(dist_results(world, backend))
