"""Writing a checkpoint with a bank made after training, and saying how.

``tools/calibrate_bank.py`` (offline calibration) and ``TestTimeBankHook``
(online adaptation) write the model's weights with the meta of the
checkpoint they started from, plus an entry under their own key that says
what the bank was made from.
"""
import copy
import os
import os.path as osp
from typing import Optional

import torch
from torch import nn


def save_bank_checkpoint(model: nn.Module, out: str,
                         source_meta: Optional[dict], key: str,
                         entry: dict) -> None:
    """Write ``dict(meta, state_dict)`` of ``model`` to ``out``.

    ``meta`` is a copy of ``source_meta`` with ``entry`` appended to the list
    under ``key`` (e.g. ``meta['cn_seg_calibration']``); optimizer and
    resume state are not carried over. The file is written under another
    name and renamed, so a killed run leaves no half file at ``out``.

    Args:
        model (nn.Module): The model (unwrapped).
        out (str): The checkpoint to write.
        source_meta (dict, optional): The meta of the checkpoint the bank
            was made from.
        key (str): The meta key of the list of such entries.
        entry (dict): What was made, from what.
    """
    meta = copy.deepcopy(source_meta or {})
    meta.setdefault(key, []).append(entry)
    state_dict = {k: v.cpu() for k, v in model.state_dict().items()}
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    partial = f'{out}.partial'
    torch.save(dict(meta=meta, state_dict=state_dict), partial)
    os.replace(partial, out)
