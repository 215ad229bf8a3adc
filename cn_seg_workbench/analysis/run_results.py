"""Read the final per-class evaluation of a training or test run.

mmengine writes two kinds of results into a work dir:

- ``WORK_DIR/<timestamp>/<timestamp>.json``: one JSON object with the test
  metrics (``tools/test.py``);
- ``WORK_DIR/<timestamp>/vis_data/scalars.json``: one JSON object per line,
  training scalars and, after each validation, the validation metrics.

With cn_seg's ``MultiDomainIoUMetric`` the metrics hold, for each evaluated
domain, ``{domain}/mIoU`` and ``{domain}/IoU.{class}``.
"""
import glob
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

_TIMESTAMP = '[0-9]' * 8 + '_' + '[0-9]' * 6


@dataclass
class RunResult:
    """The per-class IoU of one domain in one run's final evaluation.

    Args:
        name (str): The run's name in tables.
        domain (str): The evaluated domain (the metric key prefix).
        class_iou (dict[str, float]): IoU (%) of each class, in class order.
        miou (float): mIoU (%).
        source (str): The file the values come from.
        step (int, optional): Training iteration of a validation; None for a
            test.
    """
    name: str
    domain: str
    class_iou: Dict[str, float]
    miou: float
    source: str
    step: Optional[int] = None


def _test_results(work_dir: str) -> List[Tuple[str, dict]]:
    """``(path, metrics)`` of every test run in ``work_dir``, oldest first."""
    found = []
    for path in sorted(
            glob.glob(osp.join(work_dir, _TIMESTAMP, _TIMESTAMP + '.json'))):
        if osp.basename(osp.dirname(path)) + '.json' != osp.basename(path):
            continue
        with open(path) as f:
            found.append((path, json.load(f)))
    return found


def _val_results(work_dir: str) -> List[Tuple[str, dict]]:
    """``(path, metrics)`` of every validation logged in ``work_dir``."""
    found = []
    for path in sorted(
            glob.glob(
                osp.join(work_dir, _TIMESTAMP, 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if any(k.endswith('mIoU') for k in record):
                    found.append((path, record))
    return found


def _domains(metrics: dict) -> List[str]:
    """Domains with per-class IoU in ``metrics``, in key order."""
    domains = []
    for key in metrics:
        domain, _, metric = key.rpartition('/')
        if metric.startswith('IoU.') and domain not in domains:
            domains.append(domain)
    return domains


def read_run(work_dir: str,
             name: Optional[str] = None,
             domain: Optional[str] = None) -> RunResult:
    """The final per-class evaluation of the run in ``work_dir``.

    The newest test result (``tools/test.py``) wins; without one, the last
    validation logged during training.

    Args:
        work_dir (str): The run's work dir.
        name (str, optional): Name for tables. Default: the folder name.
        domain (str, optional): Which domain's IoU to read. Default: the
            first domain of the metrics (``cityscapes`` in cn_seg configs).

    Returns:
        RunResult: The per-class IoU and mIoU.

    Raises:
        FileNotFoundError: If ``work_dir`` holds no evaluation with mIoU.
        ValueError: If the evaluation has no per-class IoU, or not of
            ``domain``.
    """
    name = name or osp.basename(osp.normpath(work_dir))
    results = _val_results(work_dir) + _test_results(work_dir)
    if not results:
        raise FileNotFoundError(
            f'{work_dir} holds no evaluation with mIoU (neither '
            '<timestamp>/<timestamp>.json from tools/test.py nor validation '
            'records in <timestamp>/vis_data/scalars.json).')
    # Test results come last; within each kind, the newest comes last.
    source, metrics = results[-1]
    domains = _domains(metrics)
    if not domains:
        raise ValueError(
            f'{source} has no per-class IoU (keys like cityscapes/IoU.road): '
            "evaluate with val_evaluator=dict(type='MultiDomainIoUMetric') "
            '(mmseg\'s IoUMetric only prints them).')
    domain = domain or domains[0]
    if domain not in domains:
        raise ValueError(f'{source} has no per-class IoU of domain '
                         f"'{domain}'; it has {domains}.")
    prefix = f'{domain}/IoU.'
    class_iou = {
        key[len(prefix):]: float(value)
        for key, value in metrics.items() if key.startswith(prefix)
    }
    return RunResult(
        name=name,
        domain=domain,
        class_iou=class_iou,
        miou=float(metrics[f'{domain}/mIoU']),
        source=source,
        step=metrics.get('step'))
