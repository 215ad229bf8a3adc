"""cn2bn on a trained transform-domain CN model, end to end.

The multi-scale demo config evaluates bank 0 on three sets and bank 1 on
two (a ``ConcatDataset`` of ``SetDomain``-tagged sets: the case that sent
``deploy_config`` into endless recursion). A 2-iteration training, then
``tools/cn2bn.py`` for each bank: the folded config's test data are the
sets of its bank without ``SetDomain``, mmseg's test loop runs the folded
model on them, and the folded model predicts as the CN model routed to the
bank.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmseg.apis import init_model
from mmseg.registry import DATASETS

import cn_seg
from ..processes import REPO, TOOLS, run_python, run_tool
from ..test_tools.tiny_demo import make_data, tiny_config

MULTISCALE_CN = osp.join(
    REPO, 'configs', 'demo',
    'cn_deeplabv3_r18-d8_1xb2-400_synthetic-cs-multiscale-64x128.py')
# The config's val sets by the bank that evaluates them (its _val_at calls).
SETS_OF_BANK = {0: 3, 1: 2}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The multi-scale CN demo trained for 2 iterations by tools/train.py."""
    root = tmp_path_factory.mktemp('multiscale')
    make_data(root)
    config = tiny_config(root, 'tiny_multiscale.py', MULTISCALE_CN, 2)
    run_python([osp.join(TOOLS, 'train.py'), config, '--work-dir', 'run'],
               root)
    return root, config, str(root / 'run' / 'iter_2.pth')


def _fold(trained, bank, monkeypatch, capsys):
    """tools/cn2bn.py on the trained checkpoint; the folded config."""
    root, config, checkpoint = trained
    out = root / f'folded{bank}'
    # --domain: the alias of --bank, as older commands write it.
    assert run_tool('cn2bn.py', config, checkpoint, out, '--domain', bank) == 0
    assert f'Folded bank {bank}' in capsys.readouterr().out
    return out


@pytest.mark.parametrize('bank', [0, 1])
def test_folded_bank_tests_on_its_sets(trained, bank, monkeypatch, capsys):
    root = trained[0]
    out = _fold(trained, bank, monkeypatch, capsys)
    monkeypatch.chdir(root)  # the configs' data_root is relative
    plain = Config.fromfile(str(out / 'config.py'))
    dataset = plain.test_dataloader.dataset
    assert dataset.type == 'ConcatDataset'
    assert len(dataset.datasets) == SETS_OF_BANK[bank]
    assert 'SetDomain' not in str(dataset)
    assert plain.test_pipeline == dataset.datasets[0].pipeline
    plain.work_dir = str(root / f'test{bank}')
    plain.load_from = str(out / 'model.pth')
    metrics = Runner.from_cfg(plain).test()
    assert 0 <= metrics['mIoU'] <= 100


def test_folded_bank_predicts_as_the_routed_cn_model(trained, monkeypatch,
                                                     capsys):
    """Bank 1 (half size) folded equals CN routed to bank 1, not bank 0."""
    root, config, checkpoint = trained
    out = _fold(trained, 1, monkeypatch, capsys)
    monkeypatch.chdir(root)
    plain_cfg = Config.fromfile(str(out / 'config.py'))
    sample = DATASETS.build(plain_cfg.test_dataloader.dataset)[0]
    batch = pseudo_collate([sample])
    plain = init_model(plain_cfg, str(out / 'model.pth'), device='cpu')
    cn_model = init_model(config, checkpoint, device='cpu')
    folded = plain.test_step(batch)[0].seg_logits.data
    with cn_seg.domain_routing(cn_model, [1]):
        expected = cn_model.test_step(batch)[0].seg_logits.data
    with cn_seg.domain_routing(cn_model, [0]):
        other_bank = cn_model.test_step(batch)[0].seg_logits.data
    # float32: the same convolutions on the same one-frame batch; BN's eval
    # kernel and the folded constants differ by a few ulps per layer.
    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(folded, other_bank, atol=1e-3)
