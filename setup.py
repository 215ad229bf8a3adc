"""Install cn_seg: Consistent Normalization for MMSegmentation 1.x.

Install with the torch you train with already present and without build
isolation (``make env`` does this): the optional C++ kernel ``cn_seg._C`` is
then compiled against it. Without torch at build time the package installs
without the kernel and uses an equivalent pure-PyTorch path.
"""
import glob
import sys

from setuptools import find_packages, setup


def get_version():
    """Read the version from cn_seg/version.py without importing the package."""
    scope = {}
    with open('cn_seg/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def get_extensions():
    """The CPU kernels of per-domain batch norm, if torch is importable."""
    try:
        import torch
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        return [], {}
    # at::parallel_for runs on torch's OpenMP threads only when the kernels
    # are compiled with OpenMP; otherwise it silently runs on one thread.
    openmp = ['-fopenmp'] if torch._C.has_openmp and \
        sys.platform.startswith('linux') else []
    ext = CppExtension(
        'cn_seg._C', sorted(glob.glob('cn_seg/csrc/*.cpp')),
        depends=sorted(glob.glob('cn_seg/csrc/*.h')),
        extra_compile_args=['-O3'] + openmp,
        extra_link_args=openmp)
    return [ext], {'build_ext': BuildExtension}


ext_modules, cmdclass = get_extensions()

setup(
    name='cn_seg',
    version=get_version(),
    description='Consistent Normalization (per-domain normalization banks) '
    'for MMSegmentation 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['cn_seg', 'cn_seg.*']),
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.0',
        'mmcv>=2.0.0rc4,<2.2.0',
        'mmengine>=0.10,<1.0',
        'mmsegmentation>=1.2,<2',
        'numpy',
        'opencv-python',
        'ftfy',
        'regex',
        'scipy',
        'tqdm',
        'matplotlib',
    ],
    extras_require={'tests': ['pytest']},
    license='Apache License 2.0',
)
