"""Routing each sample of a batch to the CN bank of its domain."""
from contextlib import contextmanager
from typing import Iterator, List, Optional

from torch import nn

from .losses import split_domain_losses
from .norms import DomainRoute
from .norms.domain_route import DomainIdx

_HOOK_HANDLES = '_cn_routing_handles'
_ACTIVE = '_cn_routing_active'


def _routed_modules(module: nn.Module) -> List[nn.Module]:
    """CN layers and other modules that act per domain (their class says)."""
    return [
        m for m in module.modules()
        if getattr(type(m), 'routed_by_domain', False)
    ]


@contextmanager
def domain_routing(module: nn.Module,
                   domain_idx: DomainIdx,
                   names: Optional[List[str]] = None) -> Iterator[DomainRoute]:
    """Normalize sample ``i`` with bank ``domain_idx[i]`` in every CN layer.

    Only the CN layers under ``module`` are routed, so two models in one
    process (a model and its EMA copy) route independently. The whole mixed
    batch goes through one forward pass; the order of the samples is free.

    Example:
        >>> with cn_seg.domain_routing(model, [0, 1, 1, 0]):
        ...     loss = model(inputs, data_samples, mode='loss')

    Args:
        module (nn.Module): The model (or any part of it) to route.
        domain_idx (Sequence[int] | torch.Tensor): One bank index per sample,
            a list of ints or an integer tensor of shape ``(N,)``.
        names (list[str], optional): Domain names by index, used in the
            per-domain loss keys of ``DomainWeightedLoss``. Default: None.

    Yields:
        DomainRoute: The validated route.

    Raises:
        ValueError: If ``domain_idx`` is not a 1-D sequence of non-negative
            integers (checked on entry); a CN layer raises a ValueError when
            the batch size or the number of banks does not fit.
    """
    route = DomainRoute(domain_idx, names)
    layers = _routed_modules(module)
    previous = [layer._route for layer in layers]
    for layer in layers:
        layer._route = route
    try:
        yield route
    finally:
        for layer, old in zip(layers, previous):
            layer._route = old


def _domains_of(data_samples):
    """``(domain_idx, names)`` of a batch's data samples, or None."""
    if not isinstance(data_samples, (list, tuple)) or not data_samples:
        return None
    domains, names = [], {}
    for sample in data_samples:
        k = int(sample.metainfo.get('domain_idx', 0))
        domains.append(k)
        if 'domain_name' in sample.metainfo:
            names[k] = sample.metainfo['domain_name']
    return domains, [names.get(k, '') for k in range(max(domains) + 1)]


def _enter_route(module, args, kwargs):
    data_samples = kwargs.get('data_samples',
                              args[1] if len(args) > 1 else None)
    found = _domains_of(data_samples)
    if found is None:  # e.g. mode='tensor': keep any routing in force
        return None
    context = domain_routing(module, *found)
    route = context.__enter__()
    module.__dict__.setdefault(_ACTIVE, []).append((context, route))
    return None


def _exit_route(module, args, kwargs, output):
    active = module.__dict__.get(_ACTIVE)
    if not active:
        return None
    context, route = active.pop()
    context.__exit__(None, None, None)
    if kwargs.get('mode') == 'loss' and isinstance(output, dict):
        return split_domain_losses(module, output, route.names)
    return None


def enable_domain_routing(model: nn.Module) -> nn.Module:
    """Route every forward of an mmseg segmentor by its data samples.

    Installs a forward pre-hook that reads
    ``data_samples[i].metainfo['domain_idx']`` (a sample without it is domain
    0) and routes the CN layers of ``model`` for that forward call, in every
    mode (``loss``, ``predict``, ``tensor`` with data samples), for any
    segmentor (``EncoderDecoder``, ``CascadeEncoderDecoder``, ...). In
    ``loss`` mode, the totals of ``DomainWeightedLoss`` heads are logged as
    per-domain terms named by ``metainfo['domain_name']``. Calling it twice
    is harmless. A deep copy of the model (e.g. an EMA model) keeps the
    hooks and routes its own layers.

    Args:
        model (nn.Module): The segmentor (not its DDP wrapper).

    Returns:
        nn.Module: ``model``, for chaining.
    """
    if _HOOK_HANDLES not in model.__dict__:
        model.__dict__[_HOOK_HANDLES] = (
            model.register_forward_pre_hook(_enter_route, with_kwargs=True),
            model.register_forward_hook(
                _exit_route, with_kwargs=True, always_call=True))
    return model


def disable_domain_routing(model: nn.Module) -> nn.Module:
    """Remove the hooks installed by :func:`enable_domain_routing`."""
    for handle in model.__dict__.pop(_HOOK_HANDLES, ()):
        handle.remove()
    return model
