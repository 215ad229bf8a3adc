"""Evaluation: ``MultiDomainIoUMetric`` (registered in mmseg ``METRICS``)."""
from .metrics import MultiDomainIoUMetric

__all__ = ['MultiDomainIoUMetric']
