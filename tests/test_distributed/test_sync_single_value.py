"""Synchronized CN refuses a bank with one value in the whole global batch,
as a single process (and nn.BatchNorm2d) does, on every rank alike."""
from pathlib import Path

from dist_launch import launch

WORKER = Path(__file__).with_name('single_value_worker.py')


def test_one_value_of_a_domain_over_all_ranks_is_refused(tmp_path):
    launch(
        WORKER,
        2,
        tmp_path, [str(tmp_path)],
        timeout=120,
        extra_env={'CUDA_VISIBLE_DEVICES': ''})
    for rank in range(2):
        message = (tmp_path / f'rank{rank}.txt').read_text()
        assert 'CN bank 1 got 1 value per channel' in message, message
        assert 'whole batch' in message
