"""A CN bank that never trained says so: in training, test and fold.

The tiny CN demo (2 banks) trained on the synthetic Cityscapes domain only,
as README's first config snippet would be with a one-domain dataset: bank 1
sees no sample. The training log warns at the checkpoint save and at the
end; tools/test.py warns when it evaluates the checkpoint; folding bank 1
warns, folding bank 0 does not.
"""
import logging

import pytest
from mmengine.logging import MMLogger

from cn_seg.openmmlab.deploy.fold_checkpoint import fold_checkpoint
from ..processes import run_tool
from .tiny_demo import DEMO_CN, make_data, tiny_config

ONE_DOMAIN = """
train_dataloader = dict(
    sampler=dict(samples_per_domain=[4]),
    dataset=dict(datasets=[_base_.train_dataloader.dataset.datasets[0]],
                 domain_names=['cityscapes']))
"""
WARNING = ('bank 1 of backbone.stem.1 (and {} more CN layers) has seen 0 '
           'batches; is every domain in the training set?')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('one_domain')
    make_data(root, num_train=4, num_val=1)
    config = tiny_config(root, 'one_domain.py', DEMO_CN, 2, extra=ONE_DOMAIN)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        run_tool('train.py', config, '--work-dir', root / 'work')
    return root, config, root / 'work' / 'iter_2.pth'


def _num_cn_layers(log):
    first = WARNING.split('(')[0]
    line = next(x for x in log.splitlines() if first in x)
    return int(line.split('(and ')[1].split()[0])


def test_training_warns_at_save_and_at_the_end(trained):
    root, _, _ = trained
    (log, ) = (root / 'work').glob('*/*.log')
    text = log.read_text()
    more = _num_cn_layers(text)
    assert more > 20
    assert text.count(WARNING.format(more)) >= 2  # the save, the end
    assert 'bank 0 of' not in text


def test_test_and_fold_warn(trained, tmp_path, monkeypatch):
    root, config, checkpoint = trained
    monkeypatch.chdir(root)
    run_tool('test.py', config, checkpoint, '--work-dir', tmp_path / 'test')
    (log, ) = (tmp_path / 'test').glob('*/*.log')
    text = log.read_text()
    assert WARNING.format(_num_cn_layers(text)) in text
    assert 'results with it come from a normalization with mean 0' in text

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        fold_checkpoint(config, str(checkpoint), str(tmp_path / 'b0'), 0)
        assert not [r for r in records if 'seen 0 batches' in r.getMessage()]
        fold_checkpoint(config, str(checkpoint), str(tmp_path / 'b1'), 1)
    finally:
        logger.removeHandler(handler)
    (warning, ) = [r for r in records if 'seen 0 batches' in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert 'the folded model normalizes with mean 0' in warning.getMessage()
