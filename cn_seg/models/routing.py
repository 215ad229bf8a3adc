"""Routing each sample of a batch to the CN bank of its domain."""
from contextlib import contextmanager
from typing import Iterator, List, Optional

from torch import nn

from .norms import ConsistentNorm, DomainRoute
from .norms.domain_route import DomainIdx

_HOOK_HANDLES = '_cn_routing_handles'
_ACTIVE = '_cn_routing_active'


def _cn_layers(module: nn.Module) -> List[ConsistentNorm]:
    return [m for m in module.modules() if isinstance(m, ConsistentNorm)]


@contextmanager
def domain_routing(module: nn.Module,
                   domain_idx: DomainIdx) -> Iterator[DomainRoute]:
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

    Yields:
        DomainRoute: The validated route.

    Raises:
        ValueError: If ``domain_idx`` is not a 1-D sequence of non-negative
            integers (checked on entry); a CN layer raises a ValueError when
            the batch size or the number of banks does not fit.
    """
    route = DomainRoute(domain_idx)
    layers = _cn_layers(module)
    previous = [layer._route for layer in layers]
    for layer in layers:
        layer._route = route
    try:
        yield route
    finally:
        for layer, old in zip(layers, previous):
            layer._route = old


def _domains_of(data_samples) -> Optional[List[int]]:
    if not isinstance(data_samples, (list, tuple)) or not data_samples:
        return None
    return [int(s.metainfo.get('domain_idx', 0)) for s in data_samples]


def _enter_route(module, args, kwargs):
    data_samples = kwargs.get('data_samples',
                              args[1] if len(args) > 1 else None)
    domains = _domains_of(data_samples)
    if domains is None:  # e.g. mode='tensor': keep any routing in force
        return None
    context = domain_routing(module, domains)
    context.__enter__()
    module.__dict__.setdefault(_ACTIVE, []).append(context)
    return None


def _exit_route(module, args, kwargs, output):
    active = module.__dict__.get(_ACTIVE)
    if active:
        active.pop().__exit__(None, None, None)
    return None


def enable_domain_routing(model: nn.Module) -> nn.Module:
    """Route every forward of an mmseg segmentor by its data samples.

    Installs a forward pre-hook that reads
    ``data_samples[i].metainfo['domain_idx']`` (a sample without it is domain
    0) and routes the CN layers of ``model`` for that forward call, in every
    mode (``loss``, ``predict``, ``tensor`` with data samples), for any
    segmentor (``EncoderDecoder``, ``CascadeEncoderDecoder``, ...). Calling it
    twice is harmless. A deep copy of the model (e.g. an EMA model) keeps the
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
