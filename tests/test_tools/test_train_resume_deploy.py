"""The tools end to end on tiny synthetic domains, in real processes.

One chain of runs of the CN demo config at tiny size (a few iterations, a
handful of frames), with the demo's dropout, data worker and a random seed
(``randomness.seed=None``): train, SIGKILL it after a checkpoint and
``--resume``; train uninterrupted with the seed the killed run drew; test;
fold to BN and load the result in a process without cn_seg; compare runs;
draw the feature figure.
"""
import json
import os
import os.path as osp
import signal

import numpy as np
import pytest
import torch

import cn_seg
from ..processes import (TOOLS, finish, kill_when_stalled, run_python,
                         run_tool, start)
from .tiny_demo import DEMO_BN, DEMO_CN, make_data, tiny_config

#: The folder of ``stall_hook``, which the stalling configs import.
HERE = osp.dirname(osp.abspath(__file__))
MAX_ITERS = 4
KILL_AFTER = 3  # the last checkpoint before the kill is iter_2.pth
STALL = """
custom_imports = dict(imports=['cn_seg', 'stall_hook'],
                      allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [
    dict(type='StallAfterIterHook', at={at}, marker='{marker}')]
"""
# A random seed; the demo's train loader (one persistent worker, seeded from
# the run's seed) in place of tiny_config's in-process loading.
SEEDLESS = """
randomness = dict(seed=None)
train_dataloader = dict(num_workers=1, persistent_workers=True)
"""


def _run_tool(tool, args, capsys):
    """Run ``tools/<tool>`` in this process; return what it printed."""
    capsys.readouterr()
    assert run_tool(tool, *args) == 0
    return capsys.readouterr().out


def _scalars(work_dir):
    """Training records of every run (timestamp folder) in ``work_dir``."""
    records = []
    for stamp in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, stamp, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            with open(path) as f:
                records += [json.loads(line) for line in f]
    return records


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """A folder with data/synthetic prepared by the real converters."""
    root = tmp_path_factory.mktemp('tools')
    make_data(root)
    return root


@pytest.fixture(scope='module')
def runs(root):
    """Tiny trainings, two at a time, one thread each.

    The CN config (demo dropout, random seed) killed after a checkpoint,
    beside the BN config; then the killed run resumed, beside the CN config
    uninterrupted with the seed the killed run drew.
    """
    config = tiny_config(
        root, 'tiny_cn.py', DEMO_CN, MAX_ITERS, dropout=None, extra=SEEDLESS)
    marker = root / 'stalled'
    stalling = tiny_config(
        root,
        'tiny_cn_stall.py',
        DEMO_CN,
        MAX_ITERS,
        dropout=None,
        extra=SEEDLESS + STALL.format(at=KILL_AFTER, marker=marker))
    train = osp.join(TOOLS, 'train.py')
    bn = start([
        train,
        tiny_config(root, 'tiny_bn.py', DEMO_BN, MAX_ITERS), '--work-dir', 'bn'
    ], root, 1)
    killed_status = kill_when_stalled(
        [train, stalling, '--work-dir', 'killed'], root, marker, [HERE])
    state = dict(
        status=killed_status,
        checkpoints=sorted(
            p.name for p in (root / 'killed').glob('iter_*.pth')))
    seed = torch.load(root / 'killed' / 'iter_2.pth')['meta']['seed']
    resumed = start([train, config, '--work-dir', 'killed', '--resume'], root,
                    1)
    finish(bn)
    straight = start([
        train, config, '--work-dir', 'straight', '--cfg-options',
        f'randomness.seed={seed}'
    ], root, 1)
    resume_log = finish(resumed)
    finish(straight)
    return dict(
        root=root,
        config=config,
        straight=root / 'straight',
        resumed=root / 'killed',
        bn=root / 'bn',
        before_resume=state,
        seed=seed,
        resume_log=resume_log)


def test_killed_run_resumes_where_it_stopped(runs):
    assert runs['before_resume']['status'] == -signal.SIGKILL
    assert runs['before_resume']['checkpoints'] == ['iter_2.pth']
    assert 'resumed' in runs['resume_log'].lower()
    records = [r for r in _scalars(runs['resumed']) if 'lr' in r]
    # Iteration 3 ran before the kill and again after the resume from 2.
    assert [r['step'] for r in records] == [1, 2, 3, 3, 4]


def test_resume_continues_schedule_and_state(runs):
    """Exactly the uninterrupted run: same process kind, thread count and
    machine, so every float32 operation repeats bit for bit."""
    straight = {r['step']: r for r in _scalars(runs['straight']) if 'lr' in r}
    resumed = [r for r in _scalars(runs['resumed']) if 'lr' in r]
    for record in resumed:
        assert record['lr'] == pytest.approx(
            straight[record['step']]['lr'], rel=1e-12)
        # Same data, augmentation and dropout masks at every step.
        assert record['loss'] == straight[record['step']]['loss']
    assert f'randomness.seed={runs["seed"]}' in runs['resume_log']
    assert 'restored the random states of the interrupted run: python, ' \
        'numpy, torch' in runs['resume_log']
    # The final weights, every CN bank's statistics, the optimizer state and
    # the random states equal the uninterrupted run's.
    final = f'iter_{MAX_ITERS}.pth'
    a = torch.load(runs['straight'] / final)
    b = torch.load(runs['resumed'] / final)
    assert a['meta']['iter'] == b['meta']['iter'] == MAX_ITERS
    assert a['meta']['seed'] == b['meta']['seed'] == runs['seed']
    assert a['state_dict'].keys() == b['state_dict'].keys()
    banks = [k for k in a['state_dict'] if k.endswith('running_mean')]
    assert banks and all(a['state_dict'][k].dim() == 2 for k in banks)
    for key in a['state_dict']:
        torch.testing.assert_close(
            b['state_dict'][key],
            a['state_dict'][key],
            rtol=0,
            atol=0,
            msg=key)
    for key, value in a['optimizer']['state'].items():
        torch.testing.assert_close(
            b['optimizer']['state'][key]['momentum_buffer'],
            value['momentum_buffer'],
            rtol=0,
            atol=0)
    assert torch.equal(a['random_state']['torch'], b['random_state']['torch'])
    np.testing.assert_array_equal(a['random_state']['numpy'][1],
                                  b['random_state']['numpy'][1])


def test_resume_of_a_bn_checkpoint_into_cn_is_refused(runs, tmp_path,
                                                      monkeypatch, capsys):
    """Before the optimizer fails on (C,) momentum for (banks, C) weights."""
    bn_checkpoint = runs['bn'] / f'iter_{MAX_ITERS}.pth'
    monkeypatch.chdir(runs['root'])  # the config's data_root is relative
    with pytest.raises(ValueError) as info:
        _run_tool('train.py', [
            runs['config'], '--work-dir', tmp_path, '--resume', bn_checkpoint
        ], capsys)
    message = str(info.value)
    assert message.startswith(f'Checkpoint {bn_checkpoint} does not fit')
    assert '--cfg-options load_from=CHECKPOINT' in message
    assert 'backbone.stem.1.weight: checkpoint (8,), model (2, 8)' in message


@pytest.fixture(scope='module')
def tested(runs):
    """tools/test.py on the uninterrupted run's final checkpoint."""
    checkpoint = str(runs['straight'] / f'iter_{MAX_ITERS}.pth')
    run_python([
        osp.join(TOOLS, 'test.py'), runs['config'], checkpoint, '--work-dir',
        'straight', '--show-dir', 'shown', '--cfg-options',
        'default_hooks.visualization.interval=1'
    ], runs['root'])
    return runs


def test_test_tool_reports_the_validation_metrics(tested):
    work_dir = tested['straight']
    (result, ) = [
        p for p in work_dir.glob('*/*.json') if p.stem == p.parent.name
    ]
    metrics = json.loads(result.read_text())
    validation = [r for r in _scalars(work_dir) if 'cityscapes/mIoU' in r][-1]
    for domain in ('cityscapes', 'gta5'):
        assert metrics[f'{domain}/mIoU'] == validation[f'{domain}/mIoU']
        assert len([k for k in metrics
                    if k.startswith(f'{domain}/IoU.')]) == 19
    # --show-dir: every painted prediction (interval=1) is saved.
    assert len(list((tested['root'] / 'shown').glob('**/*.png'))) == 4


PLAIN_INFERENCE = """
import sys
import numpy as np
from mmseg.apis import inference_model, init_model
model = init_model(sys.argv[1], sys.argv[2], device='cpu')
logits = inference_model(model, sys.argv[3]).seg_logits.data.numpy()
np.save(sys.argv[4], logits)
norms = sorted({type(m).__name__ for m in model.modules()
                if 'Norm' in type(m).__name__})
assert 'cn_seg' not in sys.modules, 'the folded model imported cn_seg'
print('norm types:', norms)
"""


def test_folded_model_loads_without_cn_seg(tested, tmp_path, monkeypatch,
                                           capsys):
    """Bank 1 (GTA5) folded to BN predicts as the CN model routed to it."""
    from mmengine.config import Config
    from mmseg.apis import inference_model, init_model
    domain = 1
    root = tested['root']
    checkpoint = str(tested['straight'] / f'iter_{MAX_ITERS}.pth')
    out = tmp_path / 'folded'
    _run_tool('cn2bn.py',
              [tested['config'], checkpoint, out, '--bank', domain], capsys)
    frame = sorted((root / 'data/synthetic/gta5/images').glob('*.png'))[0]
    script = tmp_path / 'plain_inference.py'
    script.write_text(PLAIN_INFERENCE)
    logits_file = tmp_path / 'logits.npy'
    output = run_python(
        [script, out / 'config.py', out / 'model.pth', frame, logits_file],
        tmp_path)
    assert "norm types: ['BatchNorm2d']" in output

    cn_model = init_model(tested['config'], checkpoint, device='cpu')
    # The folded config applies the GTA5 test pipeline (its kept dataset's).
    plain_pipeline = Config.fromfile(out / 'config.py').test_pipeline
    assert plain_pipeline == cn_model.cfg.gta5_test_pipeline
    cn_model.cfg.test_pipeline = plain_pipeline
    with cn_seg.domain_routing(cn_model, [domain]):
        expected = inference_model(cn_model, str(frame)).seg_logits.data
    other_bank = inference_model(cn_model, str(frame)).seg_logits.data
    folded = torch.from_numpy(np.load(logits_file))
    # float32, but both sides run the same convolutions on the same one-frame
    # batch on this machine; they differ only where BN's eval kernel meets
    # the folded constants (a few ulps per layer), far below 1e-4 / 1e-5.
    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(folded, other_bank, atol=1e-3)


def _cell_matches(cell, value):
    """A table cell shows ``value`` to two decimals (NaN as 'n/a')."""
    if np.isnan(value):
        return cell == 'n/a'
    return abs(float(cell) - value) <= 0.006


def _image_is_drawn(path):
    import matplotlib.image as mpimg
    pixels = mpimg.imread(str(path))
    return pixels.ndim == 3 and float(pixels[..., :3].std()) > 0.05


def test_compare_runs_writes_table_and_chart(tested, tmp_path, monkeypatch,
                                             capsys):
    out = tmp_path / 'compare'
    bn_run = tested['bn']
    printed = _run_tool(
        'compare_runs.py',
        [bn_run, tested['straight'], '--names', 'BN', 'CN', '--out', out],
        capsys)
    table = (out / 'table.md').read_text()
    assert table in printed
    rows = [[c.strip() for c in line.strip().strip('|').split('|')]
            for line in table.strip().splitlines()]
    header, rule, *rows = rows
    classes = list(cn_seg.openmmlab.datasets.GTA5Dataset.METAINFO['classes'])
    # Classes as rows, then mIoU; a column per run and the difference.
    assert header == ['class', 'BN', 'CN', 'Δ CN vs BN']
    assert [row[0] for row in rows] == classes + ['mIoU']
    assert all(len(row) == len(header) for row in rows)
    assert set(''.join(rule)) <= set('-:')

    # Values: the CN run's test JSON and the BN run's last validation.
    (cn_json, ) = [
        p for p in tested['straight'].glob('*/*.json')
        if p.stem == p.parent.name
    ]
    cn_metrics = json.loads(cn_json.read_text())
    bn_metrics = [r for r in _scalars(bn_run) if 'cityscapes/mIoU' in r][-1]
    keys = [f'cityscapes/IoU.{name}' for name in classes] + \
        ['cityscapes/mIoU']
    for (_, bn, cn, delta), key in zip(rows, keys):
        assert _cell_matches(bn, bn_metrics[key])
        assert _cell_matches(cn, cn_metrics[key])
        assert _cell_matches(delta, cn_metrics[key] - bn_metrics[key])
    assert _image_is_drawn(out / 'per_class_iou.png')


def test_visualize_features_draws_both_domains(tested, tmp_path, monkeypatch,
                                               capsys):
    figure = tmp_path / 'features.png'
    monkeypatch.chdir(tested['root'])  # the config's data_root is relative
    printed = _run_tool('visualize_features.py', [
        tested['config'], tested['straight'] / f'iter_{MAX_ITERS}.pth',
        '--out', figure, '--num-samples', 2
    ], capsys)
    assert 'cityscapes, gta5' in printed
    assert _image_is_drawn(figure)
