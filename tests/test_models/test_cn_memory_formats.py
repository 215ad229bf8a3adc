"""CN on channels_last, 3D and strided inputs, on every backend.

The Triton kernels read contiguous and channels_last tensors in place (the
other backends through their own layout handling); each layout must give
the values of plain BN run on each domain's samples, in float64 (1e-10:
only the order of the sums differs).
"""
import pytest
import torch

from .cn_helpers import (TOL64, assert_banks_equal, cn_step, make_cn,
                         reference_step)

DOMAINS = [1, 0, 1, 1, 0, 0]


def _channels_last(shape):
    x = torch.randn(shape, dtype=torch.float64) * 2 + 0.5
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    return x.contiguous(memory_format=fmt)


def _strided(shape):
    # Every other position of a wider tensor: neither layout above.
    wide = torch.randn(*shape[:-1], 2 * shape[-1], dtype=torch.float64)
    return wide[..., ::2]


@pytest.mark.parametrize('make_input,shape,inner', [
    (_channels_last, (6, 5, 4, 3), 'BN'),
    (_channels_last, (6, 5, 2, 3, 2), 'BN3d'),
    (_strided, (6, 5, 4, 3), 'BN'),
])
def test_layouts_train_like_plain_bn_per_domain(make_input, shape, inner,
                                                backend):
    torch.manual_seed(0)
    x = make_input(shape)
    if make_input is _channels_last:
        assert not x.is_contiguous() and x.dim() == len(shape)
    grad_out = torch.randn(shape, dtype=torch.float64)
    cn = make_cn(5, 2, inner=dict(type=inner)).train()
    ref_out, ref_gx, banks = reference_step(cn, x, DOMAINS, grad_out)
    out, gx = cn_step(cn, x, DOMAINS, grad_out)
    torch.testing.assert_close(out, ref_out, **TOL64)
    torch.testing.assert_close(gx, ref_gx, **TOL64)
    assert_banks_equal(cn, banks, TOL64)
