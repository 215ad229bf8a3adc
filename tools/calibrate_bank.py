"""Fill a CN bank's statistics from a folder of unlabeled frames.

Usage: ``python tools/calibrate_bank.py CONFIG CKPT --images DIR --bank K
[--from-bank J] [--num-images N] [--batch-size B] --out CKPT
[--cfg-options K=V ...]``.

The frames under ``DIR`` (recursively, common image suffixes, sorted by
path; ``--num-images N`` takes N of them spread evenly over that order, so
a folder of video sequences is covered from start to end) run through the
config's test pipeline without its ``LoadAnnotations`` (no labels needed)
and the model's data preprocessor, and :func:`cn_seg.calibrate_bank`
estimates bank K's running statistics from them (a cumulative average over
the batches, as BN with ``momentum=None``; with ``--from-bank J`` bank K's
affine parameters are copied from bank J first). The test pipeline is that
of the test data bank K normalizes, as bank K's deployment applies it (the
dataset routed to bank K of a ``MultiDomainDataset``, the ``SetDomain``
parts of bank K, else ``test_pipeline``).
The checkpoint with the new bank is written to ``--out`` (``state_dict`` and
``meta``, with ``meta['cn_seg_calibration']`` saying what was calibrated
from what; optimizer and resume state are not carried over); the input
checkpoint is never written.
"""
import argparse
import copy
import os
import os.path as osp
import sys
import time
from typing import Iterator, List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import cn_seg  # noqa: F401  (registers CN)
from cn_seg.openmmlab.deploy.deploy_config import deploy_config
from cn_seg.openmmlab.engine import (build_model_to_load, install_safe_loading,
                                     load_checked_checkpoint)
from cn_seg.openmmlab.engine.bank_checkpoint import save_bank_checkpoint

SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
_ANNOTATIONS = ('LoadAnnotations', 'LoadDepthAnnotation')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Estimate the running statistics of one CN bank from '
        'unlabeled frames (AdaBN for one domain) and write a new checkpoint.')
    parser.add_argument('config', help='the CN model config file')
    parser.add_argument('checkpoint', help='the checkpoint to start from')
    parser.add_argument(
        '--images',
        required=True,
        help='folder of the frames (searched recursively)')
    parser.add_argument(
        '--bank', type=int, required=True, help='the bank to calibrate')
    parser.add_argument(
        '--from-bank',
        type=int,
        default=None,
        help="copy this bank's affine parameters into --bank first")
    parser.add_argument(
        '--num-images',
        type=int,
        default=None,
        help='use N frames spread evenly over the sorted list (default all)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=8,
        help='frames per batch (default 8; at least 2)')
    parser.add_argument(
        '--out', required=True, help='the checkpoint to write (not CKPT)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device to run on (default cuda if available, else cpu)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file')
    return parser.parse_args(argv)


def find_images(folder: str, num_images: Optional[int] = None) -> List[str]:
    """The frames under ``folder``, sorted; ``num_images`` spread evenly."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--images {folder} is not a folder.')
    paths = sorted(
        osp.join(root, name) for root, _, names in os.walk(folder)
        for name in names if name.lower().endswith(SUFFIXES))
    if not paths:
        raise ValueError(f'No images found under {folder} (searched '
                         f'recursively for {", ".join(SUFFIXES)}).')
    if num_images is not None and num_images < 2:
        raise ValueError(f'--num-images {num_images}: give at least 2 (BN '
                         'statistics of one frame are undefined after '
                         'global pooling layers such as ASPP image '
                         'pooling).')
    if len(paths) < 2:
        raise ValueError(f'--images {folder} holds one frame ({paths[0]}): '
                         'calibrating a bank needs at least 2.')
    if num_images is None or num_images >= len(paths):
        return paths
    step = len(paths) / num_images
    return [paths[int(i * step)] for i in range(num_images)]


def test_pipeline(cfg: Config, bank: int) -> list:
    """The config's test pipeline for bank ``bank``'s frames, no labels.

    The pipeline of the test data that bank ``bank`` normalizes, as the
    deployment of that bank applies it
    (:func:`cn_seg.openmmlab.deploy.deploy_config`:
    the dataset of a ``MultiDomainDataset`` routed to the bank, the
    ``SetDomain`` parts of a ``ConcatDataset`` that give it, else
    ``test_pipeline``).
    """
    pipeline = deploy_config(cfg, bank).get('test_pipeline')
    if not pipeline:
        raise ValueError('The config has no test pipeline (neither '
                         'test_dataloader.dataset.pipeline nor test_pipeline)'
                         ': add one, e.g. LoadImageFromFile, Resize, '
                         'PackSegInputs.')
    return [
        copy.deepcopy(t) for t in pipeline if t.get('type') not in _ANNOTATIONS
    ]


def batches_of(paths: List[str], batch_size: int) -> List[List[str]]:
    """Batches of ``batch_size``; a last batch of one frame joins the one
    before (BN refuses one value per channel, e.g. after image pooling)."""
    if batch_size < 2:
        raise ValueError(f'--batch-size {batch_size}: give at least 2 (a '
                         'batch of one frame has no statistics after global '
                         'pooling layers such as ASPP image pooling).')
    out = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    if len(out) > 1 and len(out[-1]) == 1:
        last = out.pop()
        out[-1] += last
    return out


def _check_one_size(paths: List[str], samples: List[dict]) -> None:
    """Refuse a batch whose frames the test pipeline left at two sizes."""
    sizes = [tuple(s['inputs'].shape[-2:]) for s in samples]
    other = [i for i, size in enumerate(sizes) if size != sizes[0]]
    if other:
        i = other[0]
        raise ValueError(
            f'{paths[i]} is {sizes[i][1]}x{sizes[i][0]} after the test '
            f'pipeline, but {paths[0]}, in the same batch, is '
            f'{sizes[0][1]}x{sizes[0][0]} (width x height): a batch needs '
            'frames of one size. Put frames of one size in --images, or make '
            "the test pipeline give one size (e.g. dict(type='Resize', "
            'scale=(W, H), keep_ratio=False)) with --cfg-options.')


def model_batches(model, pipeline: Compose, batches: List[List[str]],
                  progress: ProgressBar) -> Iterator[dict]:
    """What the segmentor's forward takes: ``dict(inputs, mode='tensor')``."""
    for paths in batches:
        samples = []
        for path in paths:
            try:
                samples.append(pipeline(dict(img_path=path)))
            except Exception as error:
                raise ValueError(f'Cannot read image {path}: {error}') \
                    from error
        _check_one_size(paths, samples)
        data = model.data_preprocessor(pseudo_collate(samples), False)
        yield dict(inputs=data['inputs'], mode='tensor')
        progress.update(len(paths))


def main(argv=None) -> None:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} does not exist.')
    if osp.realpath(args.out) == osp.realpath(args.checkpoint):
        raise ValueError(f'--out {args.out} is the input checkpoint; write '
                         'the calibrated model to another file.')
    if osp.isdir(args.out):
        raise ValueError(f'--out {args.out} is a folder; give the checkpoint '
                         'file to write, e.g. --out '
                         f'{osp.join(args.out, "calibrated.pth")}.')
    install_safe_loading()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    paths = find_images(args.images, args.num_images)
    batches = batches_of(paths, args.batch_size)
    pipeline = Compose(test_pipeline(cfg, args.bank))

    model = build_model_to_load(cfg)
    source = load_checked_checkpoint(model, args.checkpoint)
    model.to(args.device).eval()

    print_log(
        f'Calibrating bank {args.bank}' +
        ('' if args.from_bank is None else
         f' (affine parameters from bank {args.from_bank})') +
        f' from {len(paths)} images under {args.images} in '
        f'{len(batches)} batches',
        logger='current')
    start = time.time()
    progress = ProgressBar(len(paths), file=sys.stdout)  # the current one
    num_batches = cn_seg.calibrate_bank(
        model,
        model_batches(model, pipeline, batches, progress),
        args.bank,
        from_bank=args.from_bank)
    print()

    save_bank_checkpoint(
        model, args.out, source.get('meta'), 'cn_seg_calibration',
        dict(
            checkpoint=osp.abspath(args.checkpoint),
            bank=args.bank,
            from_bank=args.from_bank,
            images=osp.abspath(args.images),
            num_images=len(paths),
            num_batches=num_batches,
            batch_size=args.batch_size,
            first_image=paths[0],
            last_image=paths[-1]))
    print_log(
        f'Bank {args.bank} calibrated from {len(paths)} images '
        f'({num_batches} batches, {time.time() - start:.1f} s); '
        f'written to {args.out}',
        logger='current')


if __name__ == '__main__':
    main()
