"""The Table 6, demo and experiment configs say what the paper and the issue
ask for."""
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CN_DIR = osp.join(REPO, 'configs', 'cn')
BN_CS = 'deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py'
BN_CS_GTA = 'deeplabv3_r50-d8_4xb2-80k_cityscapes+gta5-512x1024.py'
CN_CS_GTA = 'cn_deeplabv3_r50-d8_4xb2-80k_cityscapes+gta5-512x1024.py'
DEMO = osp.join(REPO, 'configs', 'demo')
DEMO_BN = 'deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py'
DEMO_CN = 'cn_' + DEMO_BN
SYNC_CN = dict(
    type='CN', num_domains=2, norm_cfg=dict(type='SyncBN'), requires_grad=True)


@pytest.fixture(scope='module')
def paper():
    return {
        name: Config.fromfile(osp.join(CN_DIR, name))
        for name in (BN_CS, BN_CS_GTA, CN_CS_GTA)
    }


@pytest.mark.parametrize('name', [BN_CS, BN_CS_GTA, CN_CS_GTA])
def test_paper_recipe(paper, name):
    cfg = paper[name]
    assert cfg.custom_imports.imports == ['cn_seg']
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.depth) == ('ResNetV1c', 50)
    assert backbone.dilations == (1, 1, 2, 4)
    assert backbone.strides == (1, 2, 1, 1)
    assert cfg.model.decode_head.type == 'ASPPHead'
    assert cfg.model.auxiliary_head.loss_decode.loss_weight == 0.4
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
    (poly, ) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.end) == ('PolyLR', 0.9, 80000)
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.model.data_preprocessor.size == (512, 1024)
    # Evaluation: Cityscapes val, per-class IoU in the metrics.
    val = cfg.val_dataloader.dataset
    assert val.type == 'MultiDomainDataset'
    assert [d.type for d in val.datasets] == ['CityscapesDataset']
    assert val.datasets[0].data_prefix.img_path == 'leftImg8bit/val'
    assert cfg.val_evaluator.type == 'MultiDomainIoUMetric'
    assert cfg.test_dataloader == cfg.val_dataloader


def test_paper_variants_differ_in_one_thing(paper):
    bn_cs, bn_gta, cn_gta = (paper[n] for n in (BN_CS, BN_CS_GTA, CN_CS_GTA))
    assert bn_cs.train_dataloader.dataset.type == 'CityscapesDataset'
    train = bn_gta.train_dataloader
    assert train.batch_size == 2
    assert train.sampler == dict(
        type='DomainBalancedSampler', samples_per_domain=[1, 1])
    cityscapes, gta5 = train.dataset.datasets
    assert cityscapes == bn_cs.train_dataloader.dataset
    assert gta5.type == 'GTA5Dataset'
    assert gta5.ann_file == 'train_subset2975_seed0.txt'
    assert train.dataset.domain_names == ['cityscapes', 'gta5']
    for head in ('backbone', 'decode_head', 'auxiliary_head'):
        assert bn_gta.model[head].norm_cfg == dict(
            type='SyncBN', requires_grad=True)
        assert cn_gta.model[head].norm_cfg == SYNC_CN
    # The same hooks (configs/_base_/cn_runtime.py), routing included.
    assert dict(type='DomainRoutingHook') in cn_gta.custom_hooks
    bn_rest = {k: v for k, v in bn_gta.to_dict().items() if k != 'norm_cfg'}
    cn_rest = {k: v for k, v in cn_gta.to_dict().items() if k != 'norm_cfg'}
    for cfg in (bn_rest, cn_rest):
        for head in ('backbone', 'decode_head', 'auxiliary_head'):
            cfg['model'][head].pop('norm_cfg')
    assert bn_rest == cn_rest


def test_demo_pair():
    bn = Config.fromfile(osp.join(DEMO, DEMO_BN))
    cn = Config.fromfile(osp.join(DEMO, DEMO_CN))
    for cfg in (bn, cn):
        assert cfg.model.pretrained is None  # trains offline, from scratch
        assert cfg.model.backbone.depth == 18
        assert cfg.train_cfg.max_iters == 400
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_dataloader.sampler.samples_per_domain == [2, 2]
        assert cfg.model.data_preprocessor.size == (64, 128)
        assert cfg.val_evaluator.type == 'MultiDomainIoUMetric'
        assert cfg.val_dataloader.dataset.domain_names == [
            'cityscapes', 'gta5'
        ]
    assert cn.model.backbone.norm_cfg == SYNC_CN
    assert dict(type='DomainRoutingHook') in cn.custom_hooks
    assert cn.custom_hooks == bn.custom_hooks


TABLE6 = osp.join(REPO, 'configs', 'experiments', 'table6')


def test_table6_variants_change_one_thing_of_the_demo():
    """configs/experiments/table6: rows 1 and 3 of the miniature Table 6."""
    bn = Config.fromfile(osp.join(DEMO, DEMO_BN)).to_dict()
    cn = Config.fromfile(osp.join(DEMO, DEMO_CN)).to_dict()
    real_only = Config.fromfile(
        osp.join(
            TABLE6,
            'deeplabv3_r18-d8_1xb4-400_synthetic-cs-64x128.py')).to_dict()
    train = real_only.pop('train_dataloader')
    assert train['sampler']['samples_per_domain'] == [4]
    assert train['dataset']['datasets'] == \
        bn['train_dataloader']['dataset']['datasets'][:1]
    bn.pop('train_dataloader')
    assert real_only == bn
    shared = Config.fromfile(osp.join(TABLE6, 'cn-shared_' + DEMO_CN[3:]))
    assert shared.model.backbone.norm_cfg == dict(
        SYNC_CN, type='SharedStateConsistentNorm')
    for node in (shared, shared.model.backbone, shared.model.decode_head,
                 shared.model.auxiliary_head):
        assert node.norm_cfg.type == 'SharedStateConsistentNorm'
        node.norm_cfg.type = 'CN'
    assert shared.to_dict() == cn
    # The bank x domain matrix of the demo: every val set with both banks.
    matrix = Config.fromfile(
        osp.join(DEMO, DEMO_CN.replace('.py', '_bank-matrix.py')))
    assert matrix.val_dataloader.dataset.domain_indices == [0, 1, 1, 0]
    assert matrix.val_dataloader.dataset.datasets == \
        cn['val_dataloader']['dataset']['datasets'] * 2
