"""How each type of a CN config deploys: one rule per type, in one table.

A rule takes a config dict whose ``type`` is the rule's class (or a subclass
of it) and returns what the deployment config holds in its place, fully
rewritten: it calls ``rewrite`` on what it keeps, so that a rule never sees
its own output again. :func:`rule_for` finds a class's rule along its MRO;
base-class rules (any cn_seg dataset, metric or hook) apply to cn_seg classes
only, so that mmseg's datasets stay as they are.
"""
import inspect
from typing import Any, Callable, Dict, List, Optional

from mmengine.dataset import BaseDataset, ConcatDataset
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import (DATA_SAMPLERS, DATASETS, HOOKS, METRICS, MODELS,
                            TRANSFORMS)

from cn_seg.models import ConsistentNorm
from cn_seg.models.norms import SharedStateConsistentNorm
from ..datasets import MultiDomainDataset
from ..datasets.transforms import SetDomain
from ..models.losses import DomainWeightedLoss

DROP = object()  # marks an item (a cn_seg hook or transform) to leave out
# rule(cfg, cls, domain, path, rewrite) -> the deployed value, or DROP
Rule = Callable[[dict, type, int, str, Callable], Any]
_REGISTRIES = (DATASETS, METRICS, HOOKS, TRANSFORMS, DATA_SAMPLERS, MODELS)


def is_ours(obj: Any) -> bool:
    """Whether ``obj`` (a class) is defined in cn_seg."""
    return getattr(obj, '__module__', '').split('.')[0] == 'cn_seg'


def registered_class(type_name: Any) -> Optional[type]:
    """The class a config's ``type`` names (the first registry holding it)."""
    if isinstance(type_name, type):
        return type_name
    if not isinstance(type_name, str):
        return None
    for registry in _REGISTRIES:
        cls = registry.get(type_name)
        if cls is not None:
            return cls if isinstance(cls, type) else None
    return None


def children(cfg: dict, domain: int, path: str, rewrite: Callable) -> dict:
    """``cfg`` with each value rewritten and dropped items left out."""
    items = {k: rewrite(v, domain, f'{path}.{k}') for k, v in cfg.items()}
    return {k: v for k, v in items.items() if v is not DROP}


def _mmseg_base(cls: type, registry) -> type:
    """The nearest base class of ``cls`` that ``registry`` holds by name."""
    for base in cls.__mro__[1:]:
        if not is_ours(base) and registry.get(base.__name__) is base:
            return base
    raise ValueError(f'{cls.__name__} has no mmseg base class to replace it '
                     'with in a deployment config.')


def _plain_norm(cfg, cls, domain, path, rewrite) -> dict:
    """CN -> its inner norm (keeping ``requires_grad``); SyncBN -> BN."""
    if 'norm_cfg' not in cfg:
        raise ValueError(f'CN norm config {cfg} at {path} has no inner '
                         "norm_cfg; write dict(type='CN', "
                         "norm_cfg=dict(type='BN'), ...).")
    norm = dict(cfg['norm_cfg'])
    if 'requires_grad' in cfg:
        norm.setdefault('requires_grad', cfg['requires_grad'])
    if norm.get('type') == 'SyncBN':
        norm['type'] = 'BN'
    return norm


def _shared_state_norm(cfg, cls, domain, path, rewrite) -> dict:
    """The share_state ablation holds one plain BN's state: that BN."""
    return _plain_norm(
        dict(cfg, norm_cfg=cfg.get('norm_cfg', dict(type='BN'))), cls, domain,
        path, rewrite)


def _set_domain_bank(dataset: Any) -> Optional[int]:
    """The bank a dataset's ``SetDomain`` transform gives its samples."""
    pipeline = dataset.get('pipeline') if isinstance(dataset, dict) else None
    for transform in pipeline or []:
        if isinstance(transform, dict) \
                and transform.get('type') == 'SetDomain':
            return transform.get('domain_idx', 0)
    return None


def _keep_bank(datasets: List[Any], banks: List[Any], domain: int, path: str,
               rewrite: Callable) -> dict:
    """The datasets whose samples use bank ``domain`` (else all of them).

    Each kept dataset is rewritten on its own; several are joined in a plain
    ``ConcatDataset`` that is not rewritten again.
    """
    chosen = [(i, d) for i, (d, bank) in enumerate(zip(datasets, banks))
              if bank == domain]
    if not chosen:
        print_log(
            f'deploy_config: no dataset of {path} uses bank {domain}; the '
            'folded model keeps all of them for evaluation.',
            logger='current')
        chosen = list(enumerate(datasets))
    kept = [rewrite(d, domain, f'{path}.datasets[{i}]') for i, d in chosen]
    if len(kept) == 1:
        return kept[0]
    return dict(type='ConcatDataset', datasets=kept)


def _multi_domain_dataset(cfg, cls, domain, path, rewrite) -> dict:
    """The datasets of bank ``domain`` (``domain_indices``, else position)."""
    datasets = list(cfg['datasets'])
    banks = cfg.get('domain_indices') or list(range(len(datasets)))
    return _keep_bank(datasets, banks, domain, path, rewrite)


def _concat_dataset(cfg, cls, domain, path, rewrite) -> dict:
    """Parts tagged by ``SetDomain``: those of bank ``domain``."""
    banks = [_set_domain_bank(d) for d in cfg.get('datasets', [])]
    if all(bank is None for bank in banks):
        return children(cfg, domain, path, rewrite)
    return _keep_bank(list(cfg['datasets']), banks, domain, path, rewrite)


def _drop(cfg, cls, domain, path, rewrite):
    return DROP


def _wrapped_loss(cfg, cls, domain, path, rewrite) -> Any:
    """The loss ``DomainWeightedLoss`` wraps: losses do not act at test."""
    return rewrite(cfg['loss'], domain, f'{path}.loss')


def _plain_dataset(cfg, cls, domain, path, rewrite) -> dict:
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
    return children(plain, domain, path, rewrite)


def _plain_metric(cfg, cls, domain, path, rewrite) -> dict:
    """A cn_seg metric as its mmseg base, without the arguments it added
    (``MultiDomainIoUMetric``'s domain means and class subsets)."""
    base = _mmseg_base(cls, METRICS)
    added = set(inspect.signature(cls.__init__).parameters) - set(
        inspect.signature(base.__init__).parameters)
    plain = {k: v for k, v in cfg.items() if k not in added}
    return children(dict(plain, type=base.__name__), domain, path, rewrite)


# The first class along a type's MRO that is a key here gives its rule.
RULES: Dict[type, Rule] = {
    ConsistentNorm: _plain_norm,
    SharedStateConsistentNorm: _shared_state_norm,
    MultiDomainDataset: _multi_domain_dataset,
    ConcatDataset: _concat_dataset,
    SetDomain: _drop,
    DomainWeightedLoss: _wrapped_loss,
    BaseDataset: _plain_dataset,
    BaseMetric: _plain_metric,
    Hook: _drop,
}


def rule_for(cls: type) -> Optional[Rule]:
    """The rule of ``cls``, None if it has none (see the module docstring)."""
    for klass in cls.__mro__:
        if klass in RULES and (klass is cls or is_ours(cls)):
            return RULES[klass]
    return None
