"""Rewrite a CN config into the plain mmseg config of its folded model.

:func:`cn_seg.fold_cn` turns a CN model into the plain model of one bank;
:func:`deploy_config` turns its config into one that a process without
cn_seg builds with ``mmseg.apis.init_model``:

Each cn_seg type's rule is in :mod:`cn_seg.openmmlab.deploy.rules`:

- every ``dict(type='CN', norm_cfg=X, ...)`` becomes ``X`` (keeping the CN
  dict's ``requires_grad``), and ``SyncBN`` becomes ``BN``: a deployed model
  runs in one process, where SyncBN has nothing to synchronize and its
  eval-mode computation equals BN's (the state dict keys are the same);
- ``cn_seg`` leaves ``custom_imports``; cn_seg hooks (``DomainRoutingHook``)
  leave ``custom_hooks``;
- ``DomainWeightedLoss`` becomes the loss it wraps (a deployed model sees
  one domain, and losses do not act at inference);
- evaluation data: ``MultiDomainDataset`` (or a ``ConcatDataset`` whose
  parts end in ``SetDomain``) becomes the dataset(s) whose samples use the
  kept bank, and ``SetDomain`` leaves the pipelines; cn_seg datasets and
  metrics become the mmseg class they derive from (``GTA5Dataset`` ->
  ``BaseSegDataset`` with its classes, palette and suffixes;
  ``MultiDomainIoUMetric`` -> ``IoUMetric``, without the arguments it adds);
- ``test_pipeline`` (what ``inference_model`` applies) becomes the pipeline
  of the kept test dataset (the first one, when several use the bank);
- training keys (train dataloader and pipelines, loop, optimizer,
  schedulers, resume) are dropped: the folded model is for inference and
  evaluation; train the CN config instead. ``model.pretrained`` is dropped:
  the weights are complete.
"""
from typing import Any, Dict, Optional

from mmengine.config import Config

from .rules import DROP, children, is_ours, registered_class, rule_for

_TRAINING_KEYS = ('train_dataloader', 'train_cfg', 'optim_wrapper',
                  'optimizer', 'param_scheduler', 'resume', 'load_from',
                  'auto_scale_lr')


def _rewrite(obj: Any, domain: int, path: str) -> Any:
    """``obj`` as the deployment config holds it (see :mod:`.rules`)."""
    if isinstance(obj, (list, tuple)):
        items = [
            _rewrite(v, domain, f'{path}[{i}]') for i, v in enumerate(obj)
        ]
        return type(obj)(v for v in items if v is not DROP)
    if not isinstance(obj, dict):
        return obj
    cls = registered_class(obj.get('type'))
    rule = rule_for(cls) if cls is not None else None
    if rule is not None:
        return rule(obj, cls, domain, path, _rewrite)
    if cls is not None and is_ours(cls):
        raise ValueError(
            f'{path} is the cn_seg type {cls.__name__}, which has no plain '
            'mmseg equivalent for deployment; remove it from the config.')
    return children(obj, domain, path, _rewrite)


def _without_cn_seg_imports(custom_imports: dict) -> Optional[dict]:
    imports = custom_imports.get('imports', [])
    imports = [imports] if isinstance(imports, str) else list(imports)
    kept = [m for m in imports if m.split('.')[0] != 'cn_seg']
    return dict(custom_imports, imports=kept) if kept else None


def deploy_config(cfg: Config, domain: int = 0) -> Config:
    """The plain mmseg config of a CN model folded to bank ``domain``.

    Args:
        cfg (Config): The CN model's config (with cn_seg imported).
        domain (int): The bank the model is folded to. Default: 0.

    Returns:
        Config: A config that mmseg alone (without cn_seg) can build, for
        ``mmseg.apis.init_model`` or ``tools/test.py``.

    Raises:
        ValueError: If the config holds a cn_seg type with no plain
            equivalent, or a CN dict without inner ``norm_cfg``.
    """
    data: Dict[str, Any] = cfg.to_dict()
    for key in list(data):
        if key in _TRAINING_KEYS or key.endswith('train_pipeline'):
            data.pop(key)
    if 'custom_imports' in data:
        kept = _without_cn_seg_imports(data.pop('custom_imports'))
        if kept:
            data['custom_imports'] = kept
    data = _rewrite(data, domain, 'cfg')
    if not data.get('custom_hooks'):
        data.pop('custom_hooks', None)
    data.get('model', {}).pop('pretrained', None)
    test_dataset = data.get('test_dataloader', {}).get('dataset', {})
    while test_dataset.get('type') == 'ConcatDataset':
        test_dataset = test_dataset['datasets'][0]
    if 'pipeline' in test_dataset:
        data['test_pipeline'] = test_dataset['pipeline']
    return Config(data)
