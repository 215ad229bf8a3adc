"""The wheel: built from a clean copy of the sources, installed, used.

``mim train cn_seg CONFIG`` runs ``<installed cn_seg>/.mim/tools/train.py``
(``mim test``: ``.../test.py``), as for mmseg's ``mmseg/.mim/tools``. The
tests build the wheel as a user would (``pip wheel --no-build-isolation``),
install it into a folder of its own, and run its tools from another folder
with only that folder's cn_seg on the path. The wheel is built without the
C++ kernels (``CN_SEG_NO_KERNELS=1``, minutes less on 2 cores); that setup.py
declares them is checked in ``test_setup.py``, and the torch-only install of
``benchmarks/results/torch_only_install.txt`` compiled them.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ..processes import REPO, run_python
from ..test_tools.tiny_demo import DEMO_CN, make_data, tiny_config

#: Where the installed package is, as mim asks it.
LOCATE = ('import importlib.util, os.path as osp; '
          "print(osp.dirname(importlib.util.find_spec('cn_seg').origin))")


def _sources(dest: Path) -> Path:
    """The repository's sources (what git tracks or would) in ``dest``."""
    files = subprocess.run([
        'git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'
    ],
                           cwd=REPO,
                           check=True,
                           capture_output=True).stdout.decode().split('\0')
    for name in filter(None, files):
        if osp.isfile(osp.join(REPO, name)):
            os.makedirs(dest / osp.dirname(name), exist_ok=True)
            shutil.copy2(osp.join(REPO, name), dest / name)
    return dest


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """``(wheel path, folder it is installed in)``."""
    root = tmp_path_factory.mktemp('wheel')
    source = _sources(root / 'src')
    subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '-q', '-w',
        str(root / 'dist'),
        str(source)
    ],
                   check=True,
                   capture_output=True,
                   env=dict(os.environ, CN_SEG_NO_KERNELS='1'))
    (path, ) = (root / 'dist').glob('cn_seg-*.whl')
    subprocess.run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target',
        str(root / 'site'),
        str(path)
    ],
                   check=True,
                   capture_output=True)
    return path, root / 'site'


def _tree(folder: str) -> dict:
    """``{relative path: bytes}`` of the files a folder ships."""
    out = {}
    for d, _, names in os.walk(osp.join(REPO, folder)):
        for name in names:
            if '__pycache__' not in d:
                path = osp.join(d, name)
                with open(path, 'rb') as f:
                    out[osp.relpath(path, REPO)] = f.read()
    return out


def test_wheel_holds_the_tools_configs_and_workbench(wheel):
    path, _ = wheel
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for name, data in {**_tree('configs'), **_tree('tools')}.items():
            shipped = f'cn_seg/.mim/{name}'
            assert shipped in names, f'{shipped} is missing from {path.name}'
            assert archive.read(shipped) == data, shipped
    assert 'cn_seg_workbench/synthetic/prepare.py' in names
    assert 'cn_seg/openmmlab/models/norms.py' in names
    assert not [n for n in names if n.startswith(('tests/', 'benchmarks/'))]


def test_installed_tools_train_and_test_from_any_folder(wheel, tmp_path):
    """What ``mim train cn_seg CONFIG`` and ``mim test cn_seg`` run."""
    _, site = wheel
    package = run_python(['-c', LOCATE], tmp_path, path=[site]).strip()
    assert package == str(site / 'cn_seg')
    tools = site / 'cn_seg' / '.mim' / 'tools'
    make_data(tmp_path, num_train=4, num_val=2)
    config = tiny_config(tmp_path, 'tiny.py', DEMO_CN, max_iters=2)
    run_python([tools / 'train.py', config, '--work-dir', 'work'],
               tmp_path,
               path=[site])
    checkpoint = (tmp_path / 'work' / 'last_checkpoint').read_text().strip()
    output = run_python(
        [tools / 'test.py', config, checkpoint, '--work-dir', 'tested'],
        tmp_path,
        path=[site])
    assert 'cityscapes/mIoU' in output, output[-2000:]


def test_installed_configs_load(wheel, tmp_path):
    """Every shipped config, read from the installed package, resolves its
    bases there."""
    _, site = wheel
    code = (
        'import glob, os.path as osp\n'
        'from mmengine.config import Config\n'
        'import cn_seg\n'
        "root = osp.join(osp.dirname(cn_seg.__file__), '.mim', 'configs')\n"
        "names = sorted(glob.glob(osp.join(root, '**', '*.py'),"
        ' recursive=True))\n'
        'for name in names:\n'
        '    Config.fromfile(name)\n'
        "print(len(names), 'configs from', root)\n")
    output = run_python(['-c', code], tmp_path, path=[site])
    count = len([n for n in _tree('configs') if n.endswith('.py')])
    assert f"{count} configs from {site / 'cn_seg' / '.mim' / 'configs'}" \
        in output
