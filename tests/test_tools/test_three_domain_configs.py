"""The three-domain configs (Cityscapes + GTA5 + SYNTHIA) add one domain to
their two-domain siblings and report the SYNTHIA class subsets."""
import os.path as osp

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import METRICS

import cn_seg  # noqa: F401
from cn_seg.openmmlab.datasets.synthia_labels import CLASS_SUBSETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER = osp.join(REPO, 'configs', 'cn')
DEMO = osp.join(REPO, 'configs', 'demo')
PAIRS = [
    (osp.join(PAPER, 'cn_deeplabv3_r50-d8_4xb2-80k_cityscapes+gta5-'
              '512x1024.py'),
     osp.join(
         PAPER, 'cn_deeplabv3_r50-d8_4xb3-80k_cityscapes+gta5+synthia-'
         '512x1024.py'), [1, 1, 1]),
    (osp.join(DEMO, 'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-'
              '64x128.py'),
     osp.join(
         DEMO, 'cn_deeplabv3_r18-d8_1xb6-400_synthetic-cs+gta5+synthia-'
         '64x128.py'), [2, 2, 2]),
]


def test_a_third_domain_bank_and_the_synthia_subsets():
    init_default_scope('mmseg')
    for two_path, three_path, quotas in PAIRS:
        two, three = Config.fromfile(two_path), Config.fromfile(three_path)
        train = three.train_dataloader
        assert train.dataset.domain_names == ['cityscapes', 'gta5', 'synthia']
        assert train.dataset.datasets[:2] == \
            two.train_dataloader.dataset.datasets
        synthia = train.dataset.datasets[2]
        assert synthia.type == 'SynthiaDataset'
        assert synthia.data_prefix == dict(
            img_path='RGB', seg_map_path='GT/LABELS')
        assert train.sampler.samples_per_domain == quotas
        assert train.batch_size == sum(quotas)
        for head in ('backbone', 'decode_head', 'auxiliary_head'):
            norm = three.model[head].norm_cfg
            assert (norm.type, norm.num_domains) == ('CN', 3)
            assert norm.norm_cfg == two.model[head].norm_cfg.norm_cfg
        assert three.custom_hooks == two.custom_hooks
        assert three.train_cfg == two.train_cfg
        assert three.param_scheduler == two.param_scheduler
        assert three.val_dataloader == two.val_dataloader
        metric = METRICS.build(three.val_evaluator)
        assert metric.class_subsets == CLASS_SUBSETS
        assert three.test_evaluator == three.val_evaluator
