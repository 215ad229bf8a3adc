"""Two domains through a real Runner: routing, per-domain metrics, resume."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from cn_seg import ConsistentNorm
from .synthetic_data import cityscapes_cfg, gta5_cfg, load_pipeline

CN = dict(
    type='CN', num_domains=2, norm_cfg=dict(type='BN'), requires_grad=True)
CROP = (64, 64)


class RecordBatches(Hook):
    """Record the image paths of every training batch."""

    def __init__(self):
        self.batches = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.batches.append([s.img_path for s in data_batch['data_samples']])


class RecordDomains(Hook):
    """Record ``domain_idx`` of the data samples the segmentor receives."""

    def __init__(self):
        self.domains = []

    def before_train(self, runner):
        runner.model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        if module.training:
            self.domains.append(
                [s.metainfo['domain_idx'] for s in kwargs['data_samples']])


def _config(synthetic, work_dir, max_iters=2, num_workers=0, hooks=()):
    """A tiny DeepLab-like CN model trained on both synthetic domains."""
    train_pipeline = load_pipeline(crop=CROP)
    return dict(
        model=dict(
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='SegDataPreProcessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=True,
                pad_val=0,
                seg_pad_val=255,
                size=CROP),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                base_channels=8,
                stem_channels=8,
                out_indices=(3, ),
                norm_cfg=CN),
            decode_head=dict(
                type='FCNHead',
                in_channels=64,
                channels=16,
                num_convs=1,
                concat_input=False,
                num_classes=19,
                norm_cfg=CN,
                loss_decode=dict(type='CrossEntropyLoss')),
            test_cfg=ConfigDict(mode='whole')),
        train_dataloader=dict(
            batch_size=2,
            num_workers=num_workers,
            persistent_workers=False,
            sampler=dict(
                type='DomainBalancedSampler', samples_per_domain=[1, 1]),
            batch_sampler=dict(type='DomainBalancedBatchSampler'),
            dataset=dict(
                type='MultiDomainDataset',
                domain_names=['cityscapes', 'gta5'],
                datasets=[
                    cityscapes_cfg(
                        synthetic['cityscapes'], pipeline=train_pipeline),
                    gta5_cfg(synthetic['gta5'], pipeline=train_pipeline)
                ])),
        val_dataloader=dict(
            batch_size=1,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='MultiDomainDataset',
                domain_names=['cityscapes'],
                datasets=[cityscapes_cfg(synthetic['cityscapes'], 'val')])),
        val_evaluator=dict(type='MultiDomainIoUMetric', iou_metrics=['mIoU']),
        train_cfg=dict(
            type='IterBasedTrainLoop',
            max_iters=max_iters,
            val_interval=max_iters),
        val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='DomainRoutingHook'), *hooks],
        log_processor=dict(by_epoch=False),
        visualizer=dict(
            type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        work_dir=str(work_dir),
        default_scope='mmseg',
    )


def test_train_and_validate_two_domains(synthetic, tmp_path):
    domains = RecordDomains()
    runner = Runner(**_config(synthetic, tmp_path, hooks=[domains]))
    model = runner.train()
    # every batch, after the data preprocessor: 1 cityscapes + 1 gta5 sample
    assert domains.domains == [[0, 1], [0, 1]]
    # and the CN layers normalized each with its own bank: both banks moved
    layer = next(m for m in model.modules() if isinstance(m, ConsistentNorm))
    for bank in range(2):
        assert not torch.equal(layer.running_mean[bank],
                               torch.zeros_like(layer.running_mean[bank]))
    scalars = glob.glob(osp.join(tmp_path, '*', 'vis_data', 'scalars.json'))
    logged = [json.loads(line) for line in open(scalars[0])]
    val = next(entry for entry in logged if 'cityscapes/mIoU' in entry)
    for key in ('cityscapes/aAcc', 'cityscapes/mAcc', 'cityscapes/IoU.road',
                'cityscapes/Acc.bicycle'):
        assert key in val
    assert not any(key.startswith('gta5/') for key in val)


class PathLengthModel(BaseModel):
    """A one-parameter model: resume needs a Runner, not a real network."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, inputs=None, data_samples=None, mode='tensor'):
        target = torch.tensor([len(s.img_path) / 100 for s in data_samples])
        return dict(loss=((self.weight - target)**2).mean())


@pytest.mark.parametrize('num_workers', [0, 2])
def test_resume_continues_the_sample_order(synthetic, tmp_path, num_workers):
    # Only paths travel through the pipeline: the order is what is tested.
    paths_only = [dict(type='PackSegInputs', meta_keys=('img_path', ))]

    def train(name, hook, **kwargs):
        cfg = _config(
            synthetic,
            tmp_path / name,
            max_iters=6,
            num_workers=num_workers,
            hooks=[hook])
        for dataset in cfg['train_dataloader']['dataset']['datasets']:
            dataset['pipeline'] = paths_only
        cfg.update(
            model=PathLengthModel(),
            val_cfg=None,
            val_dataloader=None,
            val_evaluator=None,
            custom_hooks=[hook],
            **kwargs)
        runner = Runner(**cfg)
        runner.train()
        # End the workers now: a later garbage collection would join each
        # of them with torch's 5 s timeout.
        runner.train_loop.dataloader_iterator = None
        return hook.batches

    full = train('full', RecordBatches())
    assert len(full) == 6
    # Resume from iteration 4 in a new Runner whose own random seed differs
    # (the config leaves it random): the sampler continues the old order,
    # also when 2 workers prefetched 4 batches before the checkpoint loaded.
    resumed = train(
        'resumed',
        RecordBatches(),
        load_from=str(tmp_path / 'full' / 'iter_4.pth'),
        resume=True)
    assert resumed == full[4:]
