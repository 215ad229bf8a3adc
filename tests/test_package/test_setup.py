"""What setup.py declares and builds: configs and tools in the package,
kernels or a loud notice, the core's requirements and the extras.

The builds run setup.py's own commands into temporary folders (``build_py``,
``sdist``), without compiling the kernels, so each takes a few seconds; the
wheel itself is checked in ``test_wheel.py``.
"""
import filecmp
import os
import os.path as osp
import subprocess
import sys
import tarfile
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from ..processes import REPO

SHIPPED = ('configs', 'tools')  # in the package as cn_seg/.mim/<folder>
NOTICE = 'kernels\n(cn_seg._C: per-domain batch norm on the CPU) are NOT built'
FIX = 'pip install --no-build-isolation .'
# Runs setup.py as pip's backend does, with torch unimportable if asked, and
# setuptools.setup replaced by a print of what it was given when asked.
RUN_SETUP = r"""
import runpy, sys
import setuptools
if {hide_torch}:
    sys.modules['torch'] = None  # `import torch` raises ImportError
if {show_setup}:
    setuptools.setup = lambda **kw: print(
        'ext_modules:', [e.name for e in kw['ext_modules']],
        'install_requires:', kw['install_requires'], sep='\n')
sys.argv = ['setup.py'] + {args!r}
runpy.run_path('setup.py', run_name='__main__')
"""


def _setup(args, hide_torch=False, show_setup=False):
    """Run setup.py ARGS in the repository; its completed process."""
    code = RUN_SETUP.format(
        hide_torch=hide_torch, show_setup=show_setup, args=list(args))
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=120,
                          stdin=subprocess.DEVNULL,
                          start_new_session=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _files(root):
    """Relative paths of the files under ``root`` (following links)."""
    return sorted(
        osp.relpath(osp.join(d, f), root)
        for d, _, names in os.walk(root, followlinks=True) for f in names
        if '__pycache__' not in d)


def _same_tree(a, b):
    assert _files(a) == _files(b)
    match, mismatch, errors = filecmp.cmpfiles(a, b, _files(a), shallow=False)
    assert not mismatch and not errors


@pytest.mark.parametrize('hide_torch', [False, True])
def test_build_ships_configs_and_tools_and_says_when_kernels_are_skipped(
        tmp_path, hide_torch):
    # start_new_session: no controlling terminal, so the notice that
    # setup.py also writes to /dev/tty stays out of the test's terminal.
    proc = _setup(['build_py', '--build-lib', str(tmp_path)], hide_torch)
    for name in SHIPPED:
        _same_tree(osp.join(REPO, name), tmp_path / 'cn_seg' / '.mim' / name)
        assert not osp.islink(tmp_path / 'cn_seg' / '.mim' / name)
    assert (tmp_path / 'cn_seg' / 'version.py').is_file()
    assert (tmp_path / 'cn_seg_workbench' / 'synthetic' /
            'domains.py').is_file()
    if hide_torch:
        assert proc.stderr.count(NOTICE) == 1, proc.stderr
        assert FIX in proc.stderr
    else:
        assert NOTICE not in proc.stderr


@pytest.mark.parametrize('hide_torch', [False, True])
def test_kernels_are_declared_when_torch_is_importable(hide_torch):
    proc = _setup(['--version'], hide_torch, show_setup=True)
    expected = [] if hide_torch else ['cn_seg._C']
    assert f'ext_modules:\n{expected}\n' in proc.stdout
    # Only a build says it: pip runs setup.py three times per install.
    assert NOTICE not in proc.stderr


def test_declared_torch_is_the_one_import_asks_for():
    from cn_seg.openmmlab.engine.safe_load import MIN_TORCH
    proc = _setup(['--version'], show_setup=True)
    line = proc.stdout.split('install_requires:\n', 1)[1].splitlines()[0]
    (torch, ) = [
        Requirement(r) for r in eval(line) if Requirement(r).name == 'torch'
    ]
    assert str(torch.specifier) == '>=' + '.'.join(map(str, MIN_TORCH))


def test_sdist_carries_what_a_wheel_is_built_from(tmp_path):
    _setup([
        '-q', 'egg_info', '--egg-base',
        str(tmp_path), 'sdist', '--dist-dir',
        str(tmp_path)
    ])
    (archive, ) = tmp_path.glob('cn_seg-*.tar.gz')
    with tarfile.open(archive) as tar:
        names = {n.split('/', 1)[1] for n in tar.getnames() if '/' in n}
    shipped = {
        osp.join(name, f)
        for name in SHIPPED
        for f in _files(osp.join(REPO, name))
    }
    csrc = {
        osp.join('cn_seg', 'csrc', f)
        for f in os.listdir(osp.join(REPO, 'cn_seg', 'csrc'))
    }
    assert shipped | csrc | {'LICENSE', 'README.md', 'setup.py'} <= names
    assert not [n for n in names if '.mim' in n or n.endswith('.so')]


def test_core_needs_torch_and_numpy_and_the_extras_are_met_here():
    """``make env`` installs the core, the mmseg extra and the tests extra."""
    requirements = [Requirement(r) for r in metadata.requires('cn_seg')]
    assert {r.name
            for r in requirements if r.marker is None} == {'torch', 'numpy'}
    extras = set(metadata.metadata('cn_seg').get_all('Provides-Extra'))
    assert extras == {'mmseg', 'tensorboard', 'triton', 'tests'}
    mmseg = [
        r for r in requirements
        if r.marker is not None and r.marker.evaluate({'extra': 'mmseg'})
    ]
    assert {r.name for r in mmseg} >= {'mmcv', 'mmengine', 'mmsegmentation'}
    for requirement in requirements:
        if requirement.marker is not None and not any(
                requirement.marker.evaluate({'extra': e})
                for e in ('mmseg', 'tests')):
            continue
        version = metadata.version(requirement.name)
        assert requirement.specifier.contains(
            version, prereleases=True), (
                f'{requirement.name} {version} does not meet {requirement}')
