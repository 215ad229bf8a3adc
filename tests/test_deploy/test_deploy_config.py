"""deploy_config: a CN config rewritten for mmseg alone."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmseg.registry import METRICS, MODELS

from cn_seg.openmmlab.deploy import deploy_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER_CN = osp.join(
    REPO, 'configs', 'cn',
    'cn_deeplabv3_r50-d8_4xb2-80k_cityscapes+gta5-512x1024.py')
DEMO_CN = osp.join(REPO, 'configs', 'demo',
                   'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py')


def _types(obj):
    """Every ``type`` value in a nested config."""
    if isinstance(obj, dict):
        found = [obj['type']] if 'type' in obj else []
        return found + [t for v in obj.values() for t in _types(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _types(v)]
    return []


@pytest.fixture(scope='module')
def paper_cn():
    return Config.fromfile(PAPER_CN)


def test_cn_becomes_bn_and_cn_seg_leaves(paper_cn):
    plain = deploy_config(paper_cn, domain=0).to_dict()
    types = _types(plain)
    for cn_seg_type in ('CN', 'DomainRoutingHook', 'MultiDomainDataset',
                        'MultiDomainIoUMetric', 'DomainBalancedSampler',
                        'GTA5Dataset', 'SyncBN'):
        assert cn_seg_type not in types
    assert 'custom_imports' not in plain and 'custom_hooks' not in plain
    for head in ('backbone', 'decode_head', 'auxiliary_head'):
        assert plain['model'][head]['norm_cfg'] == dict(
            type='BN', requires_grad=True)
    assert plain['test_evaluator']['type'] == 'IoUMetric'
    assert plain['test_dataloader']['dataset']['type'] == 'CityscapesDataset'
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg'):
        assert key not in plain
    # The input config is left as it was.
    assert paper_cn.model.backbone.norm_cfg.type == 'CN'


def test_plain_model_has_the_cn_model_keys(paper_cn):
    """The plain config builds a BN model whose keys are the CN model's."""
    cn_model = MODELS.build(paper_cn.model)
    plain_model = MODELS.build(deploy_config(paper_cn).model)
    assert cn_model.state_dict().keys() == plain_model.state_dict().keys()
    norms = {
        type(m).__name__
        for m in plain_model.modules() if 'Norm' in type(m).__name__
    }
    assert norms == {'BatchNorm2d'}


def test_gta5_bank_keeps_its_dataset_as_mmseg_base():
    plain = deploy_config(Config.fromfile(DEMO_CN), domain=1)
    dataset = plain.test_dataloader.dataset
    # GTA5Dataset -> BaseSegDataset with GTA5's suffixes, classes, palette.
    assert dataset.type == 'BaseSegDataset'
    assert dataset.data_root == 'data/synthetic/gta5/'
    assert dataset.seg_map_suffix == '_labelTrainIds.png'
    assert dataset.img_suffix == '.png'
    assert len(dataset.metainfo['classes']) == 19
    assert dataset.metainfo['classes'][0] == 'road'
    assert plain.test_pipeline == dataset.pipeline


def test_other_custom_imports_and_hooks_stay():
    cfg = Config(
        dict(
            custom_imports=dict(imports=['cn_seg', 'my_pkg']),
            custom_hooks=[
                dict(type='DomainRoutingHook'),
                dict(type='EMAHook')
            ],
            norm_cfg=dict(
                type='CN',
                num_domains=3,
                norm_cfg=dict(type='GN', num_groups=8))))
    plain = deploy_config(cfg)
    assert plain.custom_imports.imports == ['my_pkg']
    assert plain.custom_hooks == [dict(type='EMAHook')]
    assert plain.norm_cfg == dict(type='GN', num_groups=8)


def test_cn_without_inner_norm_is_a_clear_error():
    with pytest.raises(ValueError, match='inner norm_cfg'):
        deploy_config(Config(dict(norm_cfg=dict(type='CN', num_domains=2))))


def test_transform_domains_keep_the_bank_view():
    """Views tagged by SetDomain: the folded bank keeps its own view."""

    def view(scale, bank):
        return dict(
            type='CityscapesDataset',
            pipeline=[
                dict(type='Resize', scale=scale),
                dict(type='PackSegInputs'),
                dict(type='SetDomain', domain_idx=bank, domain_name=str(bank))
            ])

    cfg = Config(
        dict(
            model=dict(
                decode_head=dict(
                    loss_decode=dict(
                        type='DomainWeightedLoss',
                        loss=dict(type='CrossEntropyLoss', loss_weight=0.4)))),
            train_pipeline=[dict(type='TransformDomains', views=[])],
            test_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[view((
                        256, 128), 0), view((128, 64), 1)]))))
    plain = deploy_config(cfg, domain=1)
    assert plain.model.decode_head.loss_decode == dict(
        type='CrossEntropyLoss', loss_weight=0.4)
    assert 'train_pipeline' not in plain
    assert plain.test_dataloader.dataset == dict(
        type='CityscapesDataset',
        pipeline=[
            dict(type='Resize', scale=(128, 64)),
            dict(type='PackSegInputs')
        ])
    assert plain.test_pipeline == plain.test_dataloader.dataset.pipeline


def test_several_sets_of_the_bank_make_one_plain_concat_dataset():
    """Two views of bank 0 among three: a ConcatDataset of the two, once."""

    def view(scale, bank):
        return dict(
            type='GTA5Dataset',
            pipeline=[
                dict(type='Resize', scale=scale),
                dict(type='SetDomain', domain_idx=bank)
            ])

    cfg = Config(
        dict(
            test_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[
                        view((64, 32), 0),
                        view((32, 16), 1),
                        view((16, 8), 0)
                    ]))))
    dataset = deploy_config(cfg, domain=0).test_dataloader.dataset
    assert dataset.type == 'ConcatDataset'
    assert [d.type for d in dataset.datasets] == ['BaseSegDataset'] * 2
    assert [d.pipeline for d in dataset.datasets
            ] == [[dict(type='Resize', scale=(64, 32))],
                  [dict(type='Resize', scale=(16, 8))]]


def test_metric_leaves_the_arguments_iou_metric_lacks():
    cfg = Config(
        dict(
            test_evaluator=dict(
                type='MultiDomainIoUMetric',
                iou_metrics=['mIoU', 'mDice'],
                mean_over_domains=['cityscapes'],
                class_subsets=dict(synthia16=['road']))))
    evaluator = deploy_config(cfg).test_evaluator
    assert evaluator == dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])
    METRICS.build(evaluator)
