"""Install cn_seg: Consistent Normalization for PyTorch and MMSegmentation 1.x.

Install it into the environment that trains, with torch already there and
without build isolation, so that the C++ kernels (``cn_seg._C``, per-domain
batch norm on the CPU) are compiled against that torch::

    pip install --no-build-isolation .          # the core: torch and numpy
    pip install --no-build-isolation '.[mmseg]' # with the OpenMMLab stack
    pip install --no-build-isolation -e .       # development (make env)

pip's default build isolation builds in a fresh environment without torch:
the package then installs without the kernels (and says so here, visible
with ``pip install -v``) and CN runs its slower pure-PyTorch path. Putting a
torch into the build environment would compile against another build than
the user's (a multi-GB CUDA wheel, or an ABI mismatch), so it is not done.

The configs and the tools are shipped inside the package as
``cn_seg/.mim/configs`` and ``cn_seg/.mim/tools``, the layout of mmseg's
``mmseg/.mim``, so that ``mim train cn_seg CONFIG`` and ``mim test cn_seg``
find them: copied into wheels and regular installs, symlinks to
``configs/`` and ``tools/`` in an editable install.
"""
import glob
import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
MIM_DIR = osp.join('cn_seg', '.mim')
SHIPPED = ['configs', 'tools']  # folders shipped in cn_seg/.mim

NO_KERNELS = """
{rule}
cn_seg: torch is not importable at build time, so the C++ kernels
(cn_seg._C: per-domain batch norm on the CPU) are NOT built, and CN will
run its slower pure-PyTorch path on the CPU. pip's build isolation hides
the installed torch. To build the kernels, install torch first, then:

    pip install --no-build-isolation .      (or -e . for development)

({error})
{rule}
""".format(
    rule='=' * 76, error='{error}')


def get_version():
    """The version in cn_seg/version.py, without importing the package."""
    scope = {}
    with open(osp.join(HERE, 'cn_seg', 'version.py'), encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def say_loudly(message):
    """Write ``message`` to stderr and, if pip captures that, the terminal.

    pip shows a build's output only with ``-v`` or when the build fails, so
    a message on stderr alone would go unseen by an interactive
    ``pip install .``; the terminal (``/dev/tty``) is not captured. Without a
    terminal (CI logs) it is on stderr only; the package also warns at the
    first CN forward on the CPU.
    """
    sys.stderr.write(message)
    if sys.stderr.isatty():
        return
    try:
        with open('/dev/tty', 'w') as tty:
            tty.write(message)
    except OSError:  # no controlling terminal, or not a POSIX system
        pass


def get_extensions():
    """The CPU kernels of per-domain batch norm, if torch is importable.

    ``CN_SEG_NO_KERNELS=1`` in the environment leaves them out on purpose
    (a quick build; CN then runs its pure-PyTorch path on the CPU).

    Returns:
        tuple: ``(ext_modules, cmdclass, why_not)``; ``why_not`` is the
        message to show when the kernels cannot be built, else None.
    """
    if os.environ.get('CN_SEG_NO_KERNELS') == '1':
        return [], {}, None
    try:
        import torch
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError as error:
        return [], {}, NO_KERNELS.format(error=error)
    # at::parallel_for runs on torch's OpenMP threads only when the kernels
    # are compiled with OpenMP; otherwise it silently runs on one thread.
    openmp = ['-fopenmp'] if torch._C.has_openmp and \
        sys.platform.startswith('linux') else []
    ext = CppExtension(
        'cn_seg._C',
        sorted(glob.glob('cn_seg/csrc/*.cpp')),
        depends=sorted(glob.glob('cn_seg/csrc/*.h')),
        extra_compile_args=['-O3'] + openmp,
        extra_link_args=openmp)
    return [ext], {'build_ext': BuildExtension}, None


def link_shipped_folders():
    """Editable install: cn_seg/.mim/<folder> -> ../../<folder> symlinks.

    Python finds the editable package in the source tree, so the links make
    the installed path show the repository's files as they change.
    """
    os.makedirs(osp.join(HERE, MIM_DIR), exist_ok=True)
    for name in SHIPPED:
        target = osp.join(HERE, MIM_DIR, name)
        if osp.islink(target) or osp.isfile(target):
            os.remove(target)
        elif osp.isdir(target):
            shutil.rmtree(target)
        try:
            os.symlink(osp.join('..', '..', name), target)
        except OSError:  # no symlinks (e.g. Windows without privileges)
            shutil.copytree(osp.join(HERE, name), target)


class BuildPy(build_py):
    """build_py that also ships ``configs/`` and ``tools/`` in ``cn_seg/.mim``.

    A wheel or regular install gets a copy in the build folder (the source
    tree stays as it is); an editable install gets symlinks in the source
    tree (see :func:`link_shipped_folders`).
    """

    def run(self):
        if NO_KERNELS_REASON:  # here, not at import: pip runs setup.py 3x
            say_loudly(NO_KERNELS_REASON)
        super().run()
        if self.editable_mode:
            link_shipped_folders()
            return
        for name in SHIPPED:
            target = osp.join(self.build_lib, MIM_DIR, name)
            if osp.isdir(target):
                shutil.rmtree(target)
            shutil.copytree(
                osp.join(HERE, name),
                target,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


ext_modules, cmdclass, NO_KERNELS_REASON = get_extensions()
cmdclass['build_py'] = BuildPy

setup(
    name='cn_seg',
    version=get_version(),
    description='Consistent Normalization (per-domain normalization banks) '
    'for PyTorch and MMSegmentation 1.x',
    long_description=open(osp.join(HERE, 'README.md'),
                          encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=[
        'cn_seg', 'cn_seg.*', 'cn_seg_workbench', 'cn_seg_workbench.*'
    ]),
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    python_requires='>=3.8',
    # The core (CN layers, convert_cn, domain routing, calibrate_bank,
    # fold_cn) needs torch and numpy only.
    install_requires=[
        # torch.load defaults to weights_only=True from torch 2.6 on, which
        # cn_seg's safe checkpoint loading rests on (MIN_TORCH in
        # cn_seg/openmmlab/engine/safe_load.py).
        'torch>=2.6',
        'numpy',
    ],
    extras_require={
        # The OpenMMLab integration (imported when mmseg is installed), the
        # tools, and what they use.
        'mmseg': [
            'mmcv>=2.0.0rc4,<2.2.0',  # what mmsegmentation 1.2 asserts
            'mmengine>=0.10,<1.0',
            'mmsegmentation>=1.2,<2',
            # mmengine 0.10 imports pkg_resources at run time (e.g. to find
            # mmseg's configs for `_base_ = ['mmseg::...']`); setuptools 81
            # dropped it.
            'setuptools<81',
            'opencv-python',
            'ftfy',  # with regex, imported by `import mmseg.utils`
            'regex',
            'scipy',
            'matplotlib',
        ],
        'tensorboard': ['tensorboard'],
        # The CUDA kernels; CUDA builds of torch bring their own triton.
        'triton': ['triton>=3.0'],
        'tests': ['pytest', 'tensorboard', 'triton>=3.0'],
    },
    license='Apache License 2.0',
)
