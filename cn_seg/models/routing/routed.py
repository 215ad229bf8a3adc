"""The interface between domain routing and the modules that act per domain."""
from typing import Optional

from .domain_route import DomainRoute


class DomainRouted:
    """Mixin of a module that needs the bank of each sample of the batch.

    CN layers and ``DomainWeightedLoss`` inherit it. Routing
    (:func:`cn_seg.domain_routing`, ``DomainRoutingHook``) hands every such
    module of a model the batch's :class:`DomainRoute` with
    :meth:`set_route` before the forward pass and restores the previous route
    after it; the module reads it as :attr:`route` during its forward pass.
    A copy of the module (``copy.deepcopy``, e.g. an EMA model) starts
    unrouted: it is routed on its own.
    """

    @property
    def route(self) -> Optional[DomainRoute]:
        """DomainRoute | None: The route of the forward pass in progress."""
        return self.__dict__.get('_domain_route')

    def set_route(self, route: Optional[DomainRoute]) -> Optional[DomainRoute]:
        """Route this module's next forward passes; returns the old route.

        Args:
            route (DomainRoute, optional): The batch's route; None unroutes.

        Returns:
            DomainRoute | None: The route that was set before.
        """
        previous = self.route
        self.__dict__['_domain_route'] = route
        return previous

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop('_domain_route', None)
        return state
