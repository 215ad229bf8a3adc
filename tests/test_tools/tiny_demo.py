"""Tiny runs of the demo configs in real processes, for tests.

``make_data`` copies the session's synthetic domains (made with the real
generator and converters, ``tests/synthetic.py``) where the demo configs
look for them; ``tiny_config`` writes a config that inherits a demo config and
shrinks it to a few iterations without dataloader workers and, unless asked
to keep the demo's, without dropout.
"""
import os.path as osp
from pathlib import Path
from typing import Optional

from ..processes import REPO
from ..synthetic import copy_domains

DEMO_BN = osp.join(REPO, 'configs', 'demo',
                   'deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py')
DEMO_CN = osp.join(REPO, 'configs', 'demo',
                   'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py')


def make_data(root: Path, num_train: int = 6, num_val: int = 2) -> Path:
    """The converted synthetic domains in ``root/data/synthetic`` (the demo
    configs' path): a private copy of the session's (``tests/synthetic.py``).
    """
    data = Path(root) / 'data' / 'synthetic'
    copy_domains(data, num_train, num_val)
    return data


def tiny_config(root: Path,
                name: str,
                base: str = DEMO_CN,
                max_iters: int = 4,
                val_interval: int = None,
                extra: str = '',
                dropout: Optional[float] = 0.0) -> str:
    """Write ``root/name``: ``base`` at tiny size, plus ``extra`` lines.

    ``dropout`` sets both heads' ``dropout_ratio``; None keeps the demo's.
    """
    path = root / name
    heads = '' if dropout is None else (
        f'model = dict(decode_head=dict(dropout_ratio={dropout}),\n'
        f'             auxiliary_head=dict(dropout_ratio={dropout}))\n')
    path.write_text(f"""_base_ = [{base!r}]
train_cfg = dict(max_iters={max_iters},
                 val_interval={val_interval or max_iters})
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end={max_iters}, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=-1))
{heads}train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
{extra}""")
    return str(path)
