"""Losses."""
from .domain_weighted_loss import DomainWeightedLoss

__all__ = ['DomainWeightedLoss']
