"""Install cn_seg: Consistent Normalization for MMSegmentation 1.x."""
from setuptools import find_packages, setup


def get_version():
    """Read the version from cn_seg/version.py without importing the package."""
    scope = {}
    with open('cn_seg/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='cn_seg',
    version=get_version(),
    description='Consistent Normalization (per-domain normalization banks) '
    'for MMSegmentation 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['cn_seg', 'cn_seg.*']),
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
