"""The machine a measurement ran on, as the reports print it."""
import os
import platform

import torch


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what Python knows."""
    try:
        with open('/proc/cpuinfo') as f:
            return next(
                line.split(':', 1)[1].strip() for line in f
                if line.startswith('model name'))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or 'unknown CPU'


def describe_machine() -> str:
    """CPU model and count, GPU, Python, torch and its threads, and the
    1-minute load average now (other processes slow a measurement down).

    Returns:
        str: E.g. ``'AMD EPYC (2 cores), Python 3.11.7, torch 2.13.0+cpu,
        2 threads, load average 0.12'``.
    """
    gpu = f', GPU {torch.cuda.get_device_name()}' \
        if torch.cuda.is_available() else ''
    return (f'{cpu_model()} ({os.cpu_count()} cores){gpu}, Python '
            f'{platform.python_version()}, torch {torch.__version__}, '
            f'{torch.get_num_threads()} threads, load average '
            f'{os.getloadavg()[0]:.2f}')
