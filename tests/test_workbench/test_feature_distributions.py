"""Collecting one layer's output per domain from a real segmentor."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.apis import init_model
from mmseg.registry import DATASETS

from cn_seg_workbench.analysis.feature_distributions import (
    collect_features, default_layer, distribution_figure, domain_banks)
from cn_seg_workbench.analysis.figures import pyplot
from tests.test_tools.tiny_demo import DEMO_BN, DEMO_CN, make_data


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('features')
    make_data(root, num_train=3, num_val=2)
    return root


def _model_and_dataset(config, root):
    cfg = Config.fromfile(config)
    cfg.val_dataloader.dataset.datasets = [
        dict(d, data_root=str(root / d['data_root']))
        for d in cfg.val_dataloader.dataset.datasets
    ]
    model = init_model(cfg, None, device='cpu').eval()
    return model, DATASETS.build(cfg.val_dataloader.dataset)


def test_default_layer_is_the_last_norm_layer_of_the_first_stage():
    # ResNet-18 (BasicBlock: conv1 bn1 conv2 bn2, 2 blocks per stage) and
    # ResNet-50 (Bottleneck: ... bn3, 3 blocks in the first stage).
    r18 = init_model(Config.fromfile(DEMO_CN), None, device='cpu')
    assert default_layer(r18) == 'backbone.layer1.1.bn2'
    cfg = Config.fromfile(DEMO_BN)
    cfg.model.backbone.update(depth=50, base_channels=8, stem_channels=8)
    cfg.model.decode_head.in_channels = 256
    cfg.model.auxiliary_head.in_channels = 128
    r50 = init_model(cfg, None, device='cpu')
    assert default_layer(r50) == 'backbone.layer1.2.bn3'
    assert default_layer(r50, 'backbone.layer2') == 'backbone.layer2.3.bn3'
    with pytest.raises(ValueError, match="no module 'backbone.stage1'"):
        default_layer(r50, 'backbone.stage1')
    with pytest.raises(ValueError, match="'backbone.stem.0' holds no norm"):
        default_layer(r50, 'backbone.stem.0')


def test_each_domain_goes_through_its_own_bank(data_root):
    """Bank k of the default layer outputs the constant k + 1 (weight 0,
    bias k + 1): the values say exactly which bank each domain used."""
    model, dataset = _model_and_dataset(DEMO_CN, data_root)
    assert domain_banks(dataset) == dict(cityscapes=0, gta5=1)
    layer = model.get_submodule('backbone.layer1.1.bn2')
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor([[1.0], [2.0]]).expand_as(layer.bias))
    values = collect_features(model, dataset, num_samples=2)
    assert list(values) == ['cityscapes', 'gta5']
    for name, expected in (('cityscapes', 1.0), ('gta5', 2.0)):
        assert values[name].shape[1] == layer.num_features
        np.testing.assert_array_equal(values[name], expected)
    # A smaller budget keeps whole positions (all channels) of each sample.
    few = collect_features(model, dataset, num_samples=2, max_values=64)
    assert few['gta5'].shape == (2 * (64 // (2 * 16)), 16)


def test_the_layer_can_be_chosen_and_a_bad_name_is_refused(data_root):
    model, dataset = _model_and_dataset(DEMO_BN, data_root)
    stem = collect_features(model, dataset, 'backbone.stem.1', num_samples=1)
    relu = collect_features(model, dataset, 'backbone.layer1', num_samples=1)
    assert stem['cityscapes'].shape[1] == 8  # stem_channels // 2
    assert relu['gta5'].min() >= 0  # the stage's output is after a ReLU
    with pytest.raises(ValueError, match="no module 'backbone.layer9'"):
        collect_features(model, dataset, 'backbone.layer9')


def test_one_figure_one_panel_per_model_on_shared_axes():
    rng = np.random.default_rng(0)
    panels = {
        m: dict(a=rng.normal(size=(50, 2)), b=rng.normal(2, size=50))
        for m in ('BN', 'CN')
    }
    fig = distribution_figure(panels, titles=dict(BN='BN at x'))
    try:
        bn, cn = fig.axes
        assert bn.get_shared_x_axes().joined(bn, cn)
        assert bn.get_shared_y_axes().joined(bn, cn)
        assert (bn.get_title(), cn.get_title()) == ('BN at x', 'CN')
        assert len(bn.get_legend().get_texts()) == 2
    finally:
        pyplot().close(fig)
