"""Run a benchmark with glibc's allocator reusing freed memory.

By default glibc serves every allocation above its mmap threshold (at most
32 MiB) with a fresh ``mmap`` and unmaps it on free, so each such tensor pays
one page fault per 4 KiB page when first written. On small VMs a page fault
costs more than normalizing the page, and the tensors of the benchmarked
shapes sit around that threshold: a variant that happens to allocate 16 MiB
tensors instead of 32 MiB ones then looks faster for reasons that have
nothing to do with it. ``--allocator reuse`` (the default of the benchmarks)
re-executes the script with a threshold above any tensor and no trimming, so
all variants reuse memory and the ratios compare the computations;
``--allocator default`` keeps glibc's behaviour.
"""
import os
import sys

REUSE = {
    'MALLOC_MMAP_THRESHOLD_': str(1 << 40),
    'MALLOC_TRIM_THRESHOLD_': str(1 << 40),
}


def add_argument(parser) -> None:
    """Add ``--allocator {reuse,default}`` to a benchmark's parser."""
    parser.add_argument(
        '--allocator',
        choices=['reuse', 'default'],
        default='reuse',
        help="glibc's memory reuse for every variant alike: 'reuse' keeps "
        "freed memory (default), 'default' unmaps large blocks on free")


def apply(choice: str) -> None:
    """Re-execute the running script with the allocator ``choice`` asks for.

    Returns at once if the environment already matches; call it first in a
    script's ``main``, before any tensor exists.
    """
    wanted = REUSE if choice == 'reuse' else {}
    if all(os.environ.get(k) == wanted.get(k) for k in REUSE):
        return
    env = {k: v for k, v in os.environ.items() if k not in REUSE}
    env.update(wanted)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def describe() -> str:
    """How the allocator is set in this process, for the report header."""
    reuse = all(os.environ.get(k) == v for k, v in REUSE.items())
    return 'allocator=reuse (glibc keeps freed memory)' if reuse else \
        'allocator=default (glibc)'
