"""Structures: how a sample says which domain (CN bank) it belongs to."""
from .domains import (DomainTags, batch_domain_tags, concat_ranges,
                      default_domain_name, fallback_domain_name,
                      sample_domain_tags)

__all__ = [
    'DomainTags', 'batch_domain_tags', 'concat_ranges', 'default_domain_name',
    'fallback_domain_name', 'sample_domain_tags'
]
