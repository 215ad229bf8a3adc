"""One rank of the distributed CN tests (run by dist_launch.launch).

Usage: ``python sync_cn_worker.py OUT_DIR BACKEND DEVICE CN_BACKENDS`` with
RANK, WORLD_SIZE and CN_DIST_INIT set; DEVICE is ``cpu``, ``cuda:0`` (every
rank on one GPU, gloo) or ``cuda:rank`` (a GPU per rank, e.g. NCCL);
CN_BACKENDS is a comma-separated list of ``CN_SEG_BACKEND`` values. For each
of them in turn (one launch: starting the ranks costs more than the cases),
runs every case of ``sync_cn_cases`` for this world size through CN over
SyncBN, counting the collectives and the calls of each backend, and saves
what the tests compare to ``OUT_DIR/rank{RANK}.pt``, by CN backend.
"""
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import List

import sync_cn_cases as cases
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from cn_seg import domain_routing
from cn_seg.models.norms.backends import BACKENDS, sync_world

_OTHER_COLLECTIVES = ('all_gather', 'all_gather_into_tensor', 'broadcast',
                      'reduce', 'reduce_scatter', 'reduce_scatter_tensor',
                      'all_to_all', 'all_to_all_single', 'gather', 'scatter')


class CollectiveCounter:
    """Counts calls of ``torch.distributed`` collectives made from Python."""

    def __init__(self):
        self.all_reduce = 0
        self.other = 0
        self._wrap('all_reduce', 'all_reduce')
        for name in _OTHER_COLLECTIVES:
            self._wrap(name, 'other')

    def _wrap(self, name, counter):
        original = getattr(dist, name)

        def wrapped(*args, **kwargs):
            setattr(self, counter, getattr(self, counter) + 1)
            return original(*args, **kwargs)

        setattr(dist, name, wrapped)

    def snapshot(self):
        return self.all_reduce, self.other


def count_backend_calls() -> dict:
    """Calls of each backend's synchronized pieces, by backend name: which
    backend ``CN_SEG_BACKEND`` (or the automatic choice) really ran."""
    calls = {}
    for name, backend in BACKENDS.items():
        for piece in ('moments', 'normalize', 'grad_sums', 'grad_input'):
            original = getattr(backend, piece)

            def wrapped(*args, _original=original, _name=name, **kwargs):
                calls[_name] = calls.get(_name, 0) + 1
                return _original(*args, **kwargs)

            setattr(backend, piece, wrapped)
    return calls


def _counted(counter, fn):
    before = counter.snapshot()
    result = fn()
    after = counter.snapshot()
    return result, (after[0] - before[0], after[1] - before[1])


def run_case(counter, rank, device, ranks, t, dtype_name, momentum):
    dtype = getattr(torch, dtype_name)
    cn = cases.make_cn(t, 'SyncBN', dtype, momentum).to(device)
    steps = []
    for step in range(cases.STEPS):
        x, grad_out, domain_idx, bounds = cases.global_batch(
            ranks, t, dtype, step)
        lo, hi = bounds[rank], bounds[rank + 1]
        x = x[lo:hi].to(device).requires_grad_()
        grad_out = grad_out.to(device)
        cn.weight.grad = cn.bias.grad = None
        with domain_routing(cn, domain_idx[lo:hi]):
            out, fwd = _counted(counter, lambda: cn(x))
        _, bwd = _counted(counter, lambda: out.backward(grad_out[lo:hi]))
        steps.append(
            dict(
                out=out.detach(),
                x_grad=x.grad,
                fwd=fwd,
                bwd=bwd,
                **cases.layer_state(cn)))
    return steps


def run_model(counter, rank, device):
    ranks = cases.MODEL_CASES[dist.get_world_size()]
    model = cases.make_model('SyncBN').to(device)
    # broadcast_buffers=False as in mmengine: every rank's banks stay equal
    # because every rank applies the same global statistics.
    ddp = DistributedDataParallel(
        model,
        device_ids=[device] if device.type == 'cuda' else None,
        broadcast_buffers=False)
    x, grad_out, domain_idx, bounds = cases.global_batch(
        ranks, 2, torch.float64, 0)
    x, grad_out = x.to(device), grad_out.to(device)
    lo, hi = bounds[rank], bounds[rank + 1]
    with domain_routing(model, domain_idx[lo:hi]):
        out, fwd = _counted(counter, lambda: ddp(x[lo:hi]))
    _, bwd = _counted(counter, lambda:
                      (out * grad_out[lo:hi]).sum().backward())
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    torch.optim.SGD(model.parameters(), lr=cases.MODEL_LR).step()
    return dict(
        out=out.detach(),
        grads=grads,
        state=model.state_dict(),
        fwd=fwd,
        bwd=bwd)


def count_per_layer(counter, rank, device):
    """Collectives of one CN layer for 1 to 4 domains, ranks holding
    different domains."""
    counts = {}
    for t in range(1, 5):
        cn = cases.make_cn(t, 'SyncBN', torch.float64).to(device)
        domain_idx = [(rank + i) % t for i in range(3)]
        x = torch.randn(
            3,
            cases.CHANNELS,
            2,
            2,
            dtype=torch.float64,
            device=device,
            requires_grad=True)
        with domain_routing(cn, domain_idx):
            out, fwd = _counted(counter, lambda: cn(x))
        _, bwd = _counted(counter, lambda: out.sum().backward())
        counts[t] = dict(fwd=fwd, bwd=bwd)
    return counts


def run_all(counter, backend_calls, rank, world, device) -> dict:
    """Every case, the DDP step and the per-layer counts on one backend."""
    backend_calls.clear()
    results = dict(
        cases={
            name: run_case(counter, rank, device, *case)
            for name, case in cases.CASES[world].items()
        },
        model=run_model(counter, rank, device),
        counts=count_per_layer(counter, rank, device))
    results['backend_calls'] = dict(backend_calls)
    return results


def main(out_dir: Path, backend: str, device: str,
         cn_backends: List[str]) -> None:
    torch.set_num_threads(1)
    rank, world = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
    device = torch.device(device.replace('rank', os.environ['LOCAL_RANK']))
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend,
        init_method=os.environ['CN_DIST_INIT'],
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=int(os.environ['CN_DIST_TIMEOUT'])))
    if sync_world() != world:
        raise RuntimeError(f'sync_world() is {sync_world()}, not {world}')
    counter = CollectiveCounter()
    backend_calls = count_backend_calls()
    results = {}
    for name in cn_backends:  # read by the CN layers at every call
        os.environ['CN_SEG_BACKEND'] = name
        results[name] = run_all(counter, backend_calls, rank, world, device)
    torch.save(results, out_dir / f'rank{rank}.pt')
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split(','))
