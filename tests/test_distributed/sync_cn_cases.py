"""Cases shared by the distributed CN workers and the tests that check them.

A case is a global batch split over ranks: ``ranks[r]`` lists the domain of
each of rank r's samples, in the order the rank holds them. Workers and the
single-process references build the same layers and the same data from the
case's seed, so the tests compare a distributed run with single-process CN and
with plain per-domain BN on the concatenated global batch.
"""
import torch

from cn_seg import ConsistentNorm

CHANNELS = 3
STEPS = 2  # a second step checks that running statistics accumulate

# name: (ranks, num_domains, dtype name, momentum)
CASES = {
    2: {
        # shuffled, unequal counts and unequal batch sizes per rank
        'shuffled_2dom': ([[0, 1, 1, 0], [1, 0, 1]], 2, 'float64', 0.1),
        # rank 1 lacks domain 1; cumulative moving average
        'rank_lacks_domain_3dom': ([[2, 0, 2, 1], [0, 0, 2,
                                                   0]], 3, 'float64', None),
        # domain 1 absent on every rank: its bank is untouched
        'absent_everywhere_3dom': ([[0, 2, 0], [2, 2, 0,
                                                2]], 3, 'float64', 0.1),
        # each rank holds a single domain (the one-bank code path)
        'one_domain_per_rank': ([[1, 1, 1], [0, 0]], 2, 'float64', 0.1),
        'shuffled_2dom_float32': ([[1, 0, 0, 1], [0, 1, 1,
                                                  1]], 2, 'float32', 0.1),
    },
    3: {
        'shuffled_3dom': ([[0, 1, 2, 1], [2, 2, 0, 0],
                           [1, 1, 1, 1]], 3, 'float64', 0.1),
        'rank_lacks_domain_2dom': ([[0, 0, 1], [1, 0, 1, 1],
                                    [0, 0, 0]], 2, 'float64', None),
        # domain 1 absent everywhere, and rank 2 holds an empty batch
        'absent_everywhere_empty_rank': ([[0, 2, 0], [2, 0, 2, 2],
                                          []], 3, 'float64', 0.1),
    },
}

TOLERANCES = {
    'float64': dict(rtol=1e-9, atol=1e-10),
    'float32': dict(rtol=2e-5, atol=2e-5),
}


def make_cn(num_domains: int,
            inner: str,
            dtype: torch.dtype,
            momentum=0.1,
            channels: int = CHANNELS) -> ConsistentNorm:
    """A CN layer whose banks all differ, so a wrong bank shows."""
    cn = ConsistentNorm(
        channels,
        num_domains=num_domains,
        norm_cfg=dict(type=inner, momentum=momentum))
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        shape = cn.weight.shape
        cn.weight.copy_(1 + 0.5 * torch.randn(shape, generator=g))
        cn.bias.copy_(torch.randn(shape, generator=g))
        cn.running_mean.copy_(torch.randn(shape, generator=g))
        cn.running_var.copy_(torch.rand(shape, generator=g) + 0.5)
    return cn.to(dtype).train()


def global_batch(ranks, num_domains: int, dtype: torch.dtype, step: int):
    """The concatenated batch of all ranks for one step.

    Returns:
        tuple: ``(x, grad_out, domain_idx, bounds)``; rank r holds samples
        ``bounds[r]:bounds[r + 1]`` of the global batch.
    """
    domain_idx = [k for rank in ranks for k in rank]
    g = torch.Generator().manual_seed(1000 * step + 17 * num_domains +
                                      len(domain_idx))
    n = len(domain_idx)
    idx = torch.tensor(domain_idx, dtype=torch.long).view(n, 1, 1, 1)
    # Each domain has its own mean and scale, so shared statistics would show.
    x = torch.randn(n, CHANNELS, 4, 5, generator=g, dtype=torch.float64)
    x = (x * (1 + idx) + 2 * idx).to(dtype)
    grad_out = torch.randn(
        n, CHANNELS, 4, 5, generator=g, dtype=torch.float64).to(dtype)
    bounds = [0]
    for rank in ranks:
        bounds.append(bounds[-1] + len(rank))
    return x, grad_out, domain_idx, bounds


def layer_state(cn: ConsistentNorm) -> dict:
    """What a test compares after a step: gradients and every bank's state."""
    return dict(
        weight_grad=cn.weight.grad.detach().clone(),
        bias_grad=cn.bias.grad.detach().clone(),
        running_mean=cn.running_mean.clone(),
        running_var=cn.running_var.clone(),
        num_batches_tracked=cn.num_batches_tracked.clone())


# The DDP case: a two-CN model trained one SGD step under
# DistributedDataParallel (gradients averaged over ranks, as in mmengine).
MODEL_CASES = {
    2: [[0, 1, 1], [1, 1, 0, 1]],
    3: [[1, 0], [0, 0, 0], [1, 0, 1]],
}
MODEL_LR = 0.1


def make_model(inner: str) -> torch.nn.Sequential:
    """Conv, CN, ReLU, conv, CN in float64, the same on every process."""
    torch.manual_seed(3)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(CHANNELS, 4, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(4, CHANNELS, 1))
    model.insert(1, make_cn(2, inner, torch.float64, channels=4))
    model.append(make_cn(2, inner, torch.float64))
    return model.double().train()


def model_state(model: torch.nn.Module) -> dict:
    """Gradients, parameters and buffers of a model, by name."""
    state = {
        f'grad.{n}': p.grad.detach().clone()
        for n, p in model.named_parameters()
    }
    state.update({
        n: t.detach().clone()
        for n, t in model.state_dict().items()
    })
    return state
