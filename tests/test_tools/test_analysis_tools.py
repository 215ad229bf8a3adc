"""tools/compare_runs.py and tools/visualize_features.py, run in-process on
hand-written run results and on demo-config models with hand-set layers."""
import json
import math
import os.path as osp
import runpy

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.apis import init_model

import cn_seg
from ..processes import TOOLS
from .tiny_demo import DEMO_BN, DEMO_CN, make_data

CLASSES = list(cn_seg.openmmlab.datasets.GTA5Dataset.METAINFO['classes'])
LAYER = 'backbone.layer1.1.bn2'  # the default layer of the demo models


def _tool(name):
    return runpy.run_path(osp.join(TOOLS, name))['main']


def _rows(table):
    return [[c.strip() for c in line.strip().strip('|').split('|')]
            for line in table.strip().splitlines()]


def _write_test_result(work_dir, ious):
    stamp = '20260101_000000'
    folder = work_dir / stamp
    folder.mkdir(parents=True)
    metrics = {'cityscapes/mIoU': round(float(np.nanmean(ious)), 2)}
    metrics.update({f'cityscapes/IoU.{c}': v for c, v in zip(CLASSES, ious)})
    (folder / f'{stamp}.json').write_text(json.dumps(metrics))  # NaN as NaN
    return metrics


def test_compare_runs_prints_classes_as_rows(tmp_path, capsys):
    rng = np.random.default_rng(0)
    bn_ious = list(np.round(rng.uniform(0, 90, len(CLASSES)), 2))
    cn_ious = list(np.round(rng.uniform(0, 90, len(CLASSES)), 2))
    bn_ious[CLASSES.index('train')] = math.nan  # absent from val and preds
    bn = _write_test_result(tmp_path / 'bn', bn_ious)
    cn = _write_test_result(tmp_path / 'cn', cn_ious)
    out = tmp_path / 'compare'
    _tool('compare_runs.py')([
        str(tmp_path / 'bn'),
        str(tmp_path / 'cn'), '--names', 'BN', 'CN', '--out',
        str(out)
    ])
    table = (out / 'table.md').read_text()
    assert table in capsys.readouterr().out
    header, _, *rows = _rows(table)
    assert header == ['class', 'BN', 'CN', 'Δ CN vs BN']
    assert [r[0] for r in rows] == CLASSES + ['mIoU']
    for row, name in zip(rows, CLASSES):
        b, c = bn[f'cityscapes/IoU.{name}'], cn[f'cityscapes/IoU.{name}']
        if math.isnan(b):
            assert row[1:] == ['n/a', f'{c:.2f}', 'n/a']
        else:
            assert row[1:] == [f'{b:.2f}', f'{c:.2f}', f'{c - b:+.2f}']
    assert rows[-1][1:3] == [
        f"{bn['cityscapes/mIoU']:.2f}", f"{cn['cityscapes/mIoU']:.2f}"
    ]
    chart = mpimg.imread(str(out / 'per_class_iou.png'))
    assert chart.shape[0] == 900 and chart[..., :3].std() > 0.05  # 2 panels


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Demo BN and CN models whose default layer outputs known constants:
    BN 3 for every domain, CN bank k the constant k + 1."""
    root = tmp_path_factory.mktemp('visualize')
    make_data(root, num_train=3, num_val=2)
    paths = {}
    for name, config, bias in (('bn', DEMO_BN, 3.0), ('cn', DEMO_CN, [[1.0],
                                                                      [2.0]])):
        torch.manual_seed(0)
        model = init_model(Config.fromfile(config), None, device='cpu')
        layer = model.get_submodule(LAYER)
        with torch.no_grad():
            layer.weight.zero_()
            layer.bias.copy_(torch.tensor(bias).expand_as(layer.bias))
        paths[name] = root / f'{name}.pth'
        meta = dict(
            dataset_meta=dict(cn_seg.openmmlab.datasets.GTA5Dataset.METAINFO))
        torch.save(dict(state_dict=model.state_dict(), meta=meta), paths[name])
    return root, paths


def test_visualize_draws_bn_and_cn_in_one_figure(checkpoints, monkeypatch,
                                                 capsys):
    root, ckpt = checkpoints
    monkeypatch.chdir(root)  # the configs' data_root is relative
    figure = root / 'both.png'
    _tool('visualize_features.py')([
        '--model', 'BN', DEMO_BN,
        str(ckpt['bn']), '--model', 'CN', DEMO_CN,
        str(ckpt['cn']), '--out',
        str(figure), '--num-samples', '1'
    ])
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    # mean, std, and N(beta_k, gamma_k^2) pooled: all exact constants here.
    assert '| BN | cityscapes | 3.000 | 0.000 | 3.000 | 0.000 |' in lines
    assert '| BN | gta5 | 3.000 | 0.000 | 3.000 | 0.000 |' in lines
    assert '| CN | cityscapes | 1.000 | 0.000 | 1.000 | 0.000 |' in lines
    assert '| CN | gta5 | 2.000 | 0.000 | 2.000 | 0.000 |' in lines
    assert '| BN | cityscapes vs gta5 | 0.000 | nan |' in lines
    assert '| CN | cityscapes vs gta5 | 1.000 | nan |' in lines
    assert 'W1 distance between cityscapes and gta5: BN 0.000, CN 1.000.' \
        in lines
    assert 'furthest apart in CN at this layer.' in printed
    assert f'CN: {LAYER} is a CN layer' in printed
    assert f'BN: {LAYER} is a BN layer' in printed
    image = mpimg.imread(str(figure))
    assert image.shape[:2] == (540, 1320)  # two panels of 5 inches, 120 dpi


def test_visualize_positional_model_and_chosen_layer(checkpoints, monkeypatch,
                                                     capsys):
    root, ckpt = checkpoints
    monkeypatch.chdir(root)
    figure = root / 'one.png'
    _tool('visualize_features.py')([
        DEMO_CN,
        str(ckpt['cn']), '--layer', 'backbone.layer1.0.bn1', '--out',
        str(figure), '--num-samples', '1', '--yscale', 'log'
    ])
    printed = capsys.readouterr().out
    name = osp.splitext(osp.basename(DEMO_CN))[0]
    assert f'{name}: backbone.layer1.0.bn1 is a CN layer' in printed
    assert 'Feature distributions of cityscapes, gta5' in printed
    assert mpimg.imread(str(figure)).shape[:2] == (540, 720)


def test_visualize_refuses_bad_layers_and_arguments(checkpoints, monkeypatch,
                                                    capsys):
    root, ckpt = checkpoints
    monkeypatch.chdir(root)
    main = _tool('visualize_features.py')
    out = str(root / 'bad.png')
    with pytest.raises(ValueError, match="no module 'backbone.layer7'"):
        main([
            DEMO_BN,
            str(ckpt['bn']), '--layer', 'backbone.layer7', '--out', out
        ])
    for argv, message in (
        ([], 'give CONFIG CHECKPOINT or --model'),
        ([DEMO_BN], 'give CONFIG and CHECKPOINT together'),
        ([
            '--model', 'A', DEMO_BN,
            str(ckpt['bn']), '--model', 'A', DEMO_CN,
            str(ckpt['cn'])
        ], "model names \\['A'\\]"),
    ):
        with pytest.raises(SystemExit):
            main(argv + ['--out', out])
        assert message.replace('\\', '') in capsys.readouterr().err
    assert not osp.exists(out)
    # A CN checkpoint into the BN config would draw untrained norm layers.
    with pytest.raises(ValueError, match='does not fit the normalization'):
        main([DEMO_BN, str(ckpt['cn']), '--out', out])
    assert not osp.exists(out)
