"""Collate samples that come as lists of views into one flat batch."""
from typing import Any, Sequence

from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS


@FUNCTIONS.register_module()
def multi_view_collate(data_batch: Sequence[Any],
                       collate: str = 'pseudo_collate') -> Any:
    """Flatten each sample's list of views, then collate as usual.

    :class:`~cn_seg.openmmlab.datasets.transforms.TransformDomains` turns a
    sample
    into a list of ``t`` packed views. With this collate function a batch of
    ``B`` such samples becomes one batch of ``B * t`` images in which the
    views of a sample are adjacent (view 0 first), so all views of a sample
    are in the same training step, as Algorithm 1 of the CN paper wants.
    Samples that are not lists (plain packed samples) pass unchanged::

        train_dataloader = dict(
            batch_size=2,  # 2 samples, 2 * t images
            collate_fn=dict(type='multi_view_collate'),
            ...)

    Args:
        data_batch (Sequence): The samples from the dataset.
        collate (str): The collate function in mmengine's ``FUNCTIONS``
            applied to the flat list. Default: ``'pseudo_collate'``.

    Returns:
        The collated batch (a dict of ``inputs`` and ``data_samples`` lists
        for mmseg's packed samples).
    """
    flat = []
    for sample in data_batch:
        if isinstance(sample, list):
            flat.extend(sample)
        else:
            flat.append(sample)
    collate_fn = pseudo_collate if collate == 'pseudo_collate' else \
        FUNCTIONS.get(collate)
    if collate_fn is None:
        raise ValueError(f'multi_view_collate: collate={collate!r} is not a '
                         "function in mmengine's FUNCTIONS registry.")
    return collate_fn(flat)
