"""Routing each sample of a batch to the CN bank of its domain."""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

from torch import nn

from ...structures import batch_domain_tags
from .domain_route import DomainIdx, DomainRoute
from .loss_parts import LossParts, ReportsLossParts
from .routed import DomainRouted

#: What :func:`install_route` replaced: each module with its previous route.
PreviousRoutes = List[Tuple[DomainRouted, Optional[DomainRoute]]]


def install_route(module: nn.Module, route: DomainRoute) -> PreviousRoutes:
    """Give every domain-routed module under ``module`` the route ``route``.

    Args:
        module (nn.Module): The model (or any part of it).
        route (DomainRoute): The batch's route.

    Returns:
        list: What to pass to :func:`restore_route` after the forward pass.
    """
    tensor = next(iter(module.parameters()), None)
    if tensor is not None:  # made here, torch.compile gets them as inputs
        route.on(tensor.device)
    return [(m, m.set_route(route)) for m in module.modules()
            if isinstance(m, DomainRouted)]


def restore_route(previous: PreviousRoutes) -> None:
    """Undo :func:`install_route`: give each module its previous route."""
    for m, route in reversed(previous):
        m.set_route(route)


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
    previous = install_route(module, route)
    try:
        yield route
    finally:
        restore_route(previous)


class _DataSampleRouting:
    """The two forward hooks that route a segmentor by its data samples.

    The pre-hook installs the route read from the call's ``data_samples``
    and, in ``mode='loss'``, a :class:`LossParts` for the losses that report
    parts; the hook restores what was there before and splits the reported
    totals of the loss dict into their parts. Calls nest (a stack); a deep
    copy of the model copies these hooks with it.
    """

    def __init__(self):
        self._pending: List[Optional[tuple]] = []

    def before_forward(self, module, args, kwargs):
        data_samples = kwargs.get('data_samples',
                                  args[1] if len(args) > 1 else None)
        tags = batch_domain_tags(data_samples)
        if tags is None:  # e.g. mode='tensor': keep any routing in force
            self._pending.append(None)
            return None
        route = DomainRoute(tags.domain_idx, tags.names)
        parts = LossParts() if kwargs.get('mode') == 'loss' else None
        reporters = [(m, m.set_loss_parts(parts)) for m in module.modules()
                     if isinstance(m, ReportsLossParts)]
        self._pending.append((parts, reporters, install_route(module, route)))
        return None

    def after_forward(self, module, args, kwargs, output):
        pending = self._pending.pop() if self._pending else None
        if pending is None:
            return None
        parts, reporters, previous = pending
        restore_route(previous)
        for m, before in reversed(reporters):
            m.set_loss_parts(before)
        if parts is not None and isinstance(output, dict):
            return parts.split(output)
        return None


_HOOKS = '_cn_domain_routing_hooks'


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
    if _HOOKS not in model.__dict__:
        hooks = _DataSampleRouting()
        model.__dict__[_HOOKS] = (model.register_forward_pre_hook(
            hooks.before_forward, with_kwargs=True),
                                  model.register_forward_hook(
                                      hooks.after_forward,
                                      with_kwargs=True,
                                      always_call=True))
    return model


def disable_domain_routing(model: nn.Module) -> nn.Module:
    """Remove the hooks installed by :func:`enable_domain_routing`."""
    for handle in model.__dict__.pop(_HOOKS, ()):
        handle.remove()
    return model
