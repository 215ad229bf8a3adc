"""Which backend a CN layer runs: CN_SEG_BACKEND, a layer's backend=, and
the error a bad name gives at the first forward pass in any mode."""
import pytest
import torch
from mmcv.cnn import build_norm_layer

from cn_seg import domain_routing
from cn_seg.models.norms.backends import select_backend
from cn_seg.models.norms.backends.selection import _resolve
from cn_seg_workbench.oracles.launches import LaunchCounter


@pytest.mark.parametrize(
    'inner', [dict(type='BN'), dict(type='GN', num_groups=2)])
@pytest.mark.parametrize('training', [True, False])
def test_a_bad_environment_name_fails_the_first_forward(
        inner, training, monkeypatch):
    cn = build_norm_layer(dict(type='CN', num_domains=2, norm_cfg=inner),
                          4)[1].train(training)
    monkeypatch.setenv('CN_SEG_BACKEND', 'tritonn')
    with pytest.raises(
            ValueError,
            match="CN_SEG_BACKEND='tritonn' is not a "
            'CN backend; use one of auto, cpu, triton, aten'):
        with domain_routing(cn, [0, 0, 1, 1]):
            cn(torch.randn(4, 4, 3, 3))


def test_a_bad_layer_backend_fails_at_build():
    with pytest.raises(ValueError, match="CN backend='gpu'"):
        build_norm_layer(dict(type='CN', backend='gpu'), 4)


def test_a_layer_backend_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv('CN_SEG_BACKEND', 'cpu')
    cn = build_norm_layer(dict(type='CN', num_domains=2, backend='aten'),
                          4)[1].train()
    assert cn.backend == 'aten'
    x = torch.randn(4, 4, 3, 3)
    with LaunchCounter() as counter, domain_routing(cn, [0, 0, 1, 1]):
        cn(x)
    assert counter.ops['aten.native_batch_norm'] == 2, counter.ops


def test_resolved_once_per_device_and_dtype(monkeypatch):
    monkeypatch.setenv('CN_SEG_BACKEND', 'aten')
    x = torch.randn(2, 3)
    select_backend(x)
    before = _resolve.cache_info()
    for _ in range(3):
        assert select_backend(x).name == 'aten'
    after = _resolve.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 3


def test_a_forced_backend_that_cannot_take_the_input_says_why(monkeypatch):
    monkeypatch.setenv('CN_SEG_BACKEND', 'cpu')
    with pytest.raises(
            ValueError,
            match='CN backend cpu cannot take '
            'torch.int64 inputs on cpu'):
        select_backend(torch.zeros(2, 3, dtype=torch.long))
