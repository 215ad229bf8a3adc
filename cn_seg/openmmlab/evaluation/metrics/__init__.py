"""Evaluation metrics."""
from .multi_domain_iou_metric import MultiDomainIoUMetric

__all__ = ['MultiDomainIoUMetric']
