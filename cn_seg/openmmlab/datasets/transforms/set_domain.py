"""Choose the CN bank a sample is evaluated with (dynamic inference)."""
from typing import Optional

from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from cn_seg.structures import fallback_domain_name
from ..domain_tags import tag_domain


@TRANSFORMS.register_module()
class SetDomain(BaseTransform):
    """Tag a packed sample with a domain, i.e. the CN bank that handles it.

    The paper's dynamic inference (Table 5): a model trained with one bank
    per input size is evaluated at a size with the bank trained for that
    size. In a test pipeline, resize to the size, pack, then set the bank::

        test_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(128, 64), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
            dict(type='SetDomain', domain_idx=1, domain_name='half'),
        ]

    With ``custom_hooks = [dict(type='DomainRoutingHook')]`` the sample is
    normalized with bank ``domain_idx``; ``MultiDomainIoUMetric`` reports it
    under ``domain_name``. (``MultiDomainDataset`` tags its samples after the
    pipeline; use its ``domain_indices`` there instead.)

    Required Keys:

    - data_samples (from ``PackSegInputs``)

    Modified Keys:

    - data_samples (metainfo ``domain_idx`` and ``domain_name``)

    Args:
        domain_idx (int): The bank index.
        domain_name (str, optional): The domain's name in metrics and logs.
            Default: None, ``domain{domain_idx}``.
    """

    def __init__(self,
                 domain_idx: int,
                 domain_name: Optional[str] = None) -> None:
        super().__init__()
        if not isinstance(domain_idx, int) or domain_idx < 0:
            raise ValueError(f'SetDomain domain_idx={domain_idx!r} must be a '
                             'non-negative int (a CN bank index).')
        self.domain_idx = domain_idx
        self.domain_name = domain_name or fallback_domain_name(domain_idx)

    def transform(self, results: dict) -> dict:
        """Set the domain tags in the packed data sample's metainfo."""
        return tag_domain(results, self.domain_idx, self.domain_name,
                          'SetDomain')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(domain_idx={self.domain_idx}, '
                f"domain_name='{self.domain_name}')")
