"""The C++ CPU kernels (``cn_seg._C``) as torch custom ops.

Registered with ``torch.library`` (with fake implementations), so that
``torch.compile`` traces a CN layer on the CPU without a graph break: the
pybind functions themselves are opaque to dynamo. :data:`available` is
False when the install did not build ``cn_seg._C``.
"""
import importlib
from typing import List, Optional

import torch
from torch import Tensor

try:  # the extension module, not the package (which imports this module)
    _C = importlib.import_module('cn_seg._C')
except ImportError:  # pragma: no cover - depends on how cn_seg was built
    _C = None

#: bool: Whether the install built ``cn_seg._C``.
available = _C is not None


@torch.library.custom_op('cn_seg::domain_bn_forward', mutates_args=())
def domain_bn_forward(x: Tensor, domain: Tensor, num_domains: int,
                      weight: Optional[Tensor], bias: Optional[Tensor],
                      eps: float) -> List[Tensor]:
    """Fused per-domain batch norm: ``[out, mean, var, invstd]``."""
    return list(
        _C.domain_bn_forward(x, domain, num_domains, weight, bias, eps))


@domain_bn_forward.register_fake
def _(x, domain, num_domains, weight, bias, eps):
    stats = [x.new_empty(num_domains, x.shape[1]) for _ in range(3)]
    return [torch.empty_like(x)] + stats


@torch.library.custom_op('cn_seg::domain_bn_backward', mutates_args=())
def domain_bn_backward(grad_out: Tensor, x: Tensor, domain: Tensor,
                       weight: Optional[Tensor], mean: Tensor, invstd: Tensor,
                       need_input: bool) -> List[Tensor]:
    """Its backward: ``[grad_input (empty unless need_input), sums]``."""
    return list(
        _C.domain_bn_backward(grad_out, x, domain, weight, mean, invstd,
                              need_input))


@domain_bn_backward.register_fake
def _(grad_out, x, domain, weight, mean, invstd, need_input):
    grad_x = torch.empty_like(x) if need_input else x.new_empty(0)
    return [grad_x, x.new_empty(mean.shape[0], 2 * x.shape[1])]


@torch.library.custom_op('cn_seg::domain_bn_moments', mutates_args=())
def domain_bn_moments(x: Tensor, domain: Tensor,
                      num_domains: int) -> List[Tensor]:
    """Per-domain ``[mean, var]`` (biased), ``(num_domains, C)`` each."""
    return list(_C.domain_bn_moments(x, domain, num_domains))


@domain_bn_moments.register_fake
def _(x, domain, num_domains):
    return [x.new_empty(num_domains, x.shape[1]) for _ in range(2)]


@torch.library.custom_op('cn_seg::domain_bn_normalize', mutates_args=())
def domain_bn_normalize(x: Tensor, domain: Tensor, mean: Tensor,
                        invstd: Tensor, weight: Optional[Tensor],
                        bias: Optional[Tensor]) -> Tensor:
    """Normalization with given per-domain mean and invstd."""
    return _C.domain_bn_normalize(x, domain, mean, invstd, weight, bias)


@domain_bn_normalize.register_fake
def _(x, domain, mean, invstd, weight, bias):
    return torch.empty_like(x)


@torch.library.custom_op('cn_seg::domain_affine', mutates_args=())
def domain_affine(grad_out: Tensor, x: Tensor, a: Tensor, b: Tensor, d: Tensor,
                  domain: Tensor) -> Tensor:
    """``a[k] * dy + b[k] * x + d[k]`` per sample domain k and channel."""
    out = torch.empty_like(x)
    _C.domain_affine_out(grad_out, x, a, b, d, domain, out)
    return out


@domain_affine.register_fake
def _(grad_out, x, a, b, d, domain):
    return torch.empty_like(x)
