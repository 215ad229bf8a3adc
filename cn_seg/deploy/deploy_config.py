"""Rewrite a CN config into the plain mmseg config of its folded model.

:func:`cn_seg.fold_cn` turns a CN model into the plain model of one bank;
:func:`deploy_config` turns its config into one that a process without
cn_seg builds with ``mmseg.apis.init_model``:

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
  ``MultiDomainIoUMetric`` -> ``IoUMetric``);
- ``test_pipeline`` (what ``inference_model`` applies) becomes the pipeline
  of the kept test dataset;
- training keys (train dataloader and pipelines, loop, optimizer,
  schedulers, resume) are dropped: the folded model is for inference and
  evaluation; train the CN config instead. ``model.pretrained`` is dropped:
  the weights are complete.
"""
import inspect
from typing import Any, Dict, Optional

from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import (DATA_SAMPLERS, DATASETS, HOOKS, METRICS, MODELS,
                            TRANSFORMS)

from ..models import ConsistentNorm

_TRAINING_KEYS = ('train_dataloader', 'train_cfg', 'optim_wrapper',
                  'optimizer', 'param_scheduler', 'resume', 'load_from',
                  'auto_scale_lr')
_CN_TYPES = ('CN', 'ConsistentNorm')
_REGISTRIES = (DATASETS, METRICS, HOOKS, TRANSFORMS, DATA_SAMPLERS, MODELS)
_DROP = object()  # marks an item (a cn_seg hook) to leave out


def _is_ours(obj: Any) -> bool:
    return getattr(obj, '__module__', '').split('.')[0] == 'cn_seg'


def _cn_seg_class(type_name: Any) -> Optional[type]:
    """The cn_seg class registered under ``type_name``, if any."""
    if not isinstance(type_name, str):
        return type_name if _is_ours(type_name) else None
    for registry in _REGISTRIES:
        cls = registry.get(type_name)
        if cls is not None:
            return cls if _is_ours(cls) else None
    return None


def _plain_norm(cfg: dict) -> dict:
    if 'norm_cfg' not in cfg:
        raise ValueError(f'CN norm config {cfg} has no inner norm_cfg; write '
                         "dict(type='CN', norm_cfg=dict(type='BN'), ...).")
    norm = dict(cfg['norm_cfg'])
    if 'requires_grad' in cfg:
        norm.setdefault('requires_grad', cfg['requires_grad'])
    if norm.get('type') == 'SyncBN':
        norm['type'] = 'BN'
    return norm


def _mmseg_base(cls: type, registry) -> type:
    """The nearest base class of ``cls`` that ``registry`` holds by name."""
    for base in cls.__mro__[1:]:
        if not _is_ours(base) and registry.get(base.__name__) is base:
            return base
    raise ValueError(f'{cls.__name__} has no mmseg base class to replace it '
                     'with in a deployment config.')


def _plain_dataset(cls: type, cfg: dict) -> dict:
    """A cn_seg dataset as its mmseg base, with the defaults made explicit."""
    base = _mmseg_base(cls, DATASETS)
    accepted = inspect.signature(base.__init__).parameters
    plain = dict(cfg, type=base.__name__)
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in accepted and name not in plain \
                and param.default is not inspect.Parameter.empty:
            plain[name] = param.default
    if getattr(cls, 'METAINFO', None) != getattr(base, 'METAINFO', None):
        metainfo = dict(cls.METAINFO)
        metainfo.update(plain.get('metainfo') or {})
        plain['metainfo'] = metainfo
    return plain


def _set_domain_bank(dataset: Any) -> Optional[int]:
    """The bank a dataset's ``SetDomain`` transform gives its samples."""
    pipeline = dataset.get('pipeline') if isinstance(dataset, dict) else None
    for transform in pipeline or []:
        if isinstance(transform, dict) \
                and transform.get('type') == 'SetDomain':
            return transform.get('domain_idx', 0)
    return None


def _keep_bank(datasets: list, banks: list, domain: int, path: str) -> dict:
    """The datasets whose samples use bank ``domain`` (else all of them)."""
    chosen = [d for d, bank in zip(datasets, banks) if bank == domain]
    if not chosen:
        print_log(
            f'deploy_config: no dataset of {path} uses bank {domain}; the '
            'folded model keeps all of them for evaluation.',
            logger='current')
        chosen = datasets
    if len(chosen) == 1:
        return chosen[0]
    return dict(type='ConcatDataset', datasets=chosen)


def _rewrite(obj: Any, domain: int, path: str) -> Any:
    if isinstance(obj, (list, tuple)):
        items = [
            _rewrite(v, domain, f'{path}[{i}]') for i, v in enumerate(obj)
        ]
        items = [v for v in items if v is not _DROP]
        return type(obj)(items)
    if not isinstance(obj, dict):
        return obj
    kind = obj.get('type')
    cls = _cn_seg_class(kind)
    if kind in _CN_TYPES or (cls is not None
                             and issubclass(cls, ConsistentNorm)):
        obj = _plain_norm(obj)
    elif cls is not None and cls.__name__ == 'MultiDomainDataset':
        datasets = list(obj['datasets'])
        banks = obj.get('domain_indices') or list(range(len(datasets)))
        return _rewrite(_keep_bank(datasets, banks, domain, path), domain,
                        path)
    elif kind == 'ConcatDataset' and any(
            _set_domain_bank(d) is not None for d in obj['datasets']):
        banks = [_set_domain_bank(d) for d in obj['datasets']]
        return _rewrite(_keep_bank(list(obj['datasets']), banks, domain, path),
                        domain, path)
    elif cls is not None and cls.__name__ == 'SetDomain':
        return _DROP
    elif cls is not None and cls.__name__ == 'DomainWeightedLoss':
        return _rewrite(obj['loss'], domain, path)
    elif cls is not None and issubclass(cls, BaseDataset):
        obj = _plain_dataset(cls, obj)
    elif cls is not None and issubclass(cls, BaseMetric):
        obj = dict(obj, type=_mmseg_base(cls, METRICS).__name__)
    elif cls is not None and issubclass(cls, Hook):
        return _DROP
    elif cls is not None:
        raise ValueError(
            f'{path} is the cn_seg type {cls.__name__}, which has no plain '
            'mmseg equivalent for deployment; remove it from the config.')
    items = {k: _rewrite(v, domain, f'{path}.{k}') for k, v in obj.items()}
    return {k: v for k, v in items.items() if v is not _DROP}


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
    if 'pipeline' in test_dataset:
        data['test_pipeline'] = test_dataset['pipeline']
    return Config(data)

