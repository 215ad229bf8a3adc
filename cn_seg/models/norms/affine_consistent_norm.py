"""CN over a sample-wise norm (GN, LN, IN): per-domain affine parameters."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.instancenorm import _InstanceNorm

from .consistent_norm import ConsistentNorm


class AffineConsistentNorm(ConsistentNorm):
    """The variant ``type='CN'`` builds for GN, LN and IN (see
    :class:`ConsistentNorm` for the arguments).

    A sample-wise norm computes its statistics per sample, so only its affine
    parameters are per domain: each sample is normalized as the plain norm
    does and scaled and shifted with its domain's ``weight`` and ``bias``. It
    is not a ``_BatchNorm``: torch's and mmengine's SyncBN conversions leave
    it alone.
    """

    @classmethod
    def wraps(cls, norm_class: type) -> bool:
        return issubclass(norm_class,
                          (_InstanceNorm, nn.GroupNorm, nn.LayerNorm))

    def _init_from(self, inner: nn.Module) -> None:
        if isinstance(inner, _InstanceNorm):
            if inner.track_running_stats:
                raise ValueError(
                    'CN supports IN without running statistics only; remove '
                    'track_running_stats=True from the inner norm_cfg.')
            self._norm = (F.instance_norm, {})
        elif isinstance(inner, nn.GroupNorm):
            self._norm = (F.group_norm, dict(num_groups=inner.num_groups))
        elif isinstance(inner, nn.LayerNorm):
            self.normalized_shape = tuple(inner.normalized_shape)
            self._norm = (F.layer_norm,
                          dict(normalized_shape=self.normalized_shape))
        else:
            raise ValueError(
                f'CN cannot wrap {type(inner).__name__} (from norm_cfg '
                f'{self.norm_cfg}); supported: BN, SyncBN, GN, LN, IN.')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize each sample; scale and shift it with its domain's bank."""
        self._check_backend()
        route = self.route
        if route is None:
            k = self._unrouted()
        else:
            route.check(x.shape[0], self.num_domains, 'CN layer')
            k = route.single_domain
        norm, args = self._norm
        y = norm(x, eps=self.eps, **args)
        if not self.affine:
            return y
        weight, bias = self.weight, self.bias
        if k is not None:  # one bank: the plain norm's affine step
            view = self._view(x, 1)
            return torch.addcmul(bias[k].view(view), y, weight[k].view(view))
        idx = route.on(x.device).domain_idx
        view = self._view(x, x.shape[0])
        return torch.addcmul(bias[idx].view(view), y, weight[idx].view(view))

    def _view(self, x: torch.Tensor, n: int) -> tuple:
        """The shape a per-sample parameter row broadcasts over ``x`` in."""
        if hasattr(self, 'normalized_shape'):
            return (n, ) + (1, ) * (x.dim() - 1 - len(
                self.normalized_shape)) + self.normalized_shape
        return (n, x.shape[1]) + (1, ) * (x.dim() - 2)
