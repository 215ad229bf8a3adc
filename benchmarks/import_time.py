"""How long ``import cn_seg`` takes, in fresh interpreters.

Usage: ``python benchmarks/import_time.py [--repeat 5]``. Runs ``import
torch`` and ``import cn_seg`` (which imports torch, and the OpenMMLab
integration where mmseg is installed) each in a new process, ``--repeat``
times, and prints the median and the spread of the wall times, with what
``import cn_seg`` imported. Run it with each environment's python (with and
without mmseg).
"""
import argparse
import statistics
import subprocess
import sys
import time

PROBE = ('import sys; import cn_seg; print(cn_seg.openmmlab is not None, '
         "sorted({m.split('.')[0] for m in sys.modules} & "
         "{'mmcv', 'mmengine', 'mmseg'}))")


def wall(code: str) -> float:
    """Seconds ``python -c code`` takes, start to exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, '-c', code],
                   check=True,
                   capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    found = subprocess.run([sys.executable, '-c', PROBE],
                           check=True,
                           capture_output=True,
                           text=True).stdout.strip()
    print(f'python: {sys.executable}')
    print(f'openmmlab imported, OpenMMLab packages loaded: {found}')
    for code in ('import torch', 'import cn_seg'):
        times = sorted(wall(code) for _ in range(args.repeat))
        print(f'{code:15s} median {statistics.median(times):.2f} s '
              f'(min {times[0]:.2f}, max {times[-1]:.2f}, '
              f'{args.repeat} runs)')


if __name__ == '__main__':
    main()
