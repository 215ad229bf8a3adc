"""Transform-defined domains: t views of each sample, view k = T_k(sample)."""
import copy
from typing import List, Optional, Sequence

from mmcv.transforms import BaseTransform, Compose
from mmseg.registry import TRANSFORMS

from ..domain_tags import tag_domain


def _build_view(view, k: int) -> Compose:
    if not isinstance(view, (list, tuple)) or not all(
            isinstance(t, dict) or callable(t) for t in view):
        raise ValueError(
            f'TransformDomains views[{k - 1}] (domain {k}) must be a list of '
            "transform configs, e.g. [dict(type='GaussianBlur', sigma=1.0)], "
            f'got {view!r}.')
    return Compose(
        [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in view])


@TRANSFORMS.register_module()
class TransformDomains(BaseTransform):
    """Turn each sample into ``t`` views, one per transform domain.

    The CN paper's Algorithm 1 applied to augmentations: view ``k`` is
    ``T_k(sample)``, where ``T_0`` is the identity (the target domain) and
    ``T_1 .. T_{t-1}`` are the given mmseg/mmcv transforms; each view is
    packed and tagged ``domain_idx=k``, so that a CN layer with ``t`` banks
    normalizes it with bank ``k`` (``DomainRoutingHook``) and
    ``DomainWeightedLoss`` adds ``lambda_k * L(view k)``. Geometric
    transforms (``Resize``, ``Pad``, ``RandomCrop``, ``RandomFlip``) move the
    label with the image, as everywhere in mmseg.

    The transform packs the views and returns them as a list, so it ends the
    pipeline, and the dataloader needs
    ``collate_fn=dict(type='multi_view_collate')``, which puts the views of
    each sample side by side in one batch (``batch_size`` samples give
    ``batch_size * t`` images). Put the augmentations shared by all views
    (random resize, crop, flip) before it; views of different sizes are
    padded to the data preprocessor's ``size`` when batched.

    Example (the paper's CIFAR pilot: rescale to half size and pad back):
        >>> dict(type='TransformDomains',
        ...      views=[[dict(type='Resize', scale_factor=0.5,
        ...                   keep_ratio=True),
        ...              dict(type='Pad', size=(128, 64))],  # (w, h)
        ...             [dict(type='GaussianBlur', sigma=1.5)],
        ...             [dict(type='RandomCrop', crop_size=(32, 64))]],
        ...      domain_names=['full', 'half', 'blur', 'crop'])

    Required Keys:

    - the keys the view transforms and ``pack`` require (``img``,
      ``gt_seg_map``, ``seg_fields`` after mmseg's loading)

    Returns:
        list[dict]: ``t`` packed views (``inputs``, ``data_samples`` whose
        metainfo holds ``domain_idx`` and ``domain_name``).

    Args:
        views (Sequence[Sequence[dict]]): Transforms of domains
            ``1 .. t-1`` (domain 0, the identity, is implicit), each a list
            of transform configs.
        domain_names (Sequence[str], optional): ``t`` names, used in logs
            (``decode.loss_ce.<name>``) and metrics. Default: None,
            ``view0 .. view{t-1}``.
        pack (dict): The transform that packs each view.
            Default: ``dict(type='PackSegInputs')``.
    """

    def __init__(self,
                 views: Sequence[Sequence[dict]],
                 domain_names: Optional[Sequence[str]] = None,
                 pack: Optional[dict] = None) -> None:
        super().__init__()
        if not isinstance(views, (list, tuple)) or not views:
            raise ValueError(
                'TransformDomains needs views=[[...], ...]: the transforms '
                'of domains 1..t-1 (domain 0 is the identity), got '
                f'{views!r}.')
        self.views = [_build_view(v, k) for k, v in enumerate(views, 1)]
        self.num_domains = len(self.views) + 1
        names = [f'view{k}' for k in range(self.num_domains)] \
            if domain_names is None else [str(n) for n in domain_names]
        if len(names) != self.num_domains or len(set(names)) != len(names):
            raise ValueError(
                f'TransformDomains domain_names={list(names)} must be '
                f'{self.num_domains} distinct names: one for the identity '
                f'and one per view ({len(self.views)} views).')
        self.domain_names: List[str] = names
        self.pack = TRANSFORMS.build(pack or dict(type='PackSegInputs'))

    def transform(self, results: dict) -> Optional[List[dict]]:
        """Return the packed views of ``results``, identity first.

        Returns None (the dataset then draws another sample) if a view
        transform drops the sample.
        """
        out = []
        transforms = [None] + self.views
        for k, view in enumerate(transforms):
            # The last view may consume the input; the others work on copies.
            data = results if k == len(transforms) - 1 else copy.deepcopy(
                results)
            if view is not None:
                data = view(data)
                if data is None:
                    return None
            packed = self.pack(data)
            out.append(
                tag_domain(packed, k, self.domain_names[k],
                           'TransformDomains'))
        return out

    def __repr__(self) -> str:
        views = ', '.join(repr(v) for v in self.views)
        return (f'{self.__class__.__name__}(views=[{views}], '
                f'domain_names={self.domain_names}, pack={self.pack!r})')
