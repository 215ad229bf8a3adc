"""Losses."""
from .domain_weighted_loss import DomainWeightedLoss, split_domain_losses

__all__ = ['DomainWeightedLoss', 'split_domain_losses']
