"""Every Python and shell block of README.md, CONTRIBUTING.md and docs/ works.

- A Python block runs as written, in a fresh interpreter in an empty folder;
  one whose first line is ``# in a config:`` is a config (or part of one)
  and must load with mmengine's ``Config.fromfile``.
- A shell block must parse (``bash -n``), and each command must be one this
  repository provides: ``python tools/<tool>.py`` and ``bash tools/<x>.sh``
  name an existing tool and only flags its ``--help`` lists; ``make`` names
  Makefile targets; ``pip install`` names this package's extras; ``mim``
  runs a tool that ships in the package; ``python -c`` code runs.
"""
import contextlib
import glob
import io
import os.path as osp
import re
import shlex
import subprocess
import sys
from functools import lru_cache
from typing import List, Tuple

import pytest

from ..processes import REPO, TOOLS, run_python, run_tool

CONFIG_MARK = '# in a config:'
FENCE = re.compile(r'^```(\w*)\n(.*?)^```', re.M | re.S)
DOCS = ['README.md', 'CONTRIBUTING.md'] + sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '*.md')))


def _blocks(kinds) -> List[Tuple[str, str]]:
    """``(where, code)`` of the fenced blocks of the given languages."""
    found = []
    for name in DOCS:
        with open(osp.join(REPO, name), encoding='utf-8') as f:
            text = f.read()
        for match in FENCE.finditer(text):
            if match.group(1) in kinds:
                line = text[:match.start()].count('\n') + 1
                found.append((f'{name}:{line}', match.group(2)))
    return found


PYTHON = _blocks({'python'})
SHELL = _blocks({'bash', 'shell', 'sh'})


def test_the_documents_have_blocks_to_check():
    assert len(PYTHON) >= 8 and len(SHELL) >= 6, (len(PYTHON), len(SHELL))


@pytest.mark.parametrize('where, code', PYTHON, ids=[w for w, _ in PYTHON])
def test_python_block_runs(where, code, tmp_path):
    if code.startswith(CONFIG_MARK):
        (tmp_path / 'config.py').write_text(code)
        code = ('from mmengine.config import Config\n'
                "cfg = Config.fromfile('config.py')\n"
                "print('loaded', len(cfg.keys()))\n")
    output = run_python(['-c', code], tmp_path)
    assert output is not None, where


@lru_cache(maxsize=None)
def _help(tool: str) -> str:
    """What ``python tools/<tool> --help`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_tool(tool, '--help') == 0
    return out.getvalue()


def _extras() -> set:
    with open(osp.join(REPO, 'setup.py'), encoding='utf-8') as f:
        setup = f.read()
    block = setup[setup.index('extras_require='):]
    return set(re.findall(r"^        '([a-z]+)': ", block, re.M))


def _commands(code: str) -> List[List[str]]:
    """The block's commands as word lists (comments and continuations
    resolved, leading ``VAR=value`` assignments dropped)."""
    commands = []
    for line in code.replace('\\\n', ' ').splitlines():
        words = shlex.split(line, comments=True)
        while words and re.match(r'^[A-Z_]+=', words[0]):
            words = words[1:]
        if words:
            commands.append(words)
    return commands


def _check_tool(where: str, tool: str, args: List[str]) -> None:
    assert osp.isfile(osp.join(TOOLS, tool)), f'{where}: no tools/{tool}'
    if not tool.endswith('.py'):
        return
    text = _help(tool)
    for word in args:
        flag = word.split('=', 1)[0]
        if flag.startswith('--'):
            assert flag in text, f'{where}: tools/{tool} has no {flag}'


@pytest.mark.parametrize('where, code', SHELL, ids=[w for w, _ in SHELL])
def test_shell_block_names_what_exists(where, code):
    subprocess.run(['bash', '-n'], input=code, text=True, check=True)
    with open(osp.join(REPO, 'Makefile'), encoding='utf-8') as f:
        targets = set(re.findall(r'^([a-z-]+):', f.read(), re.M))
    for words in _commands(code):
        program, args = words[0], words[1:]
        if program in ('python', 'bash') and args and \
                args[0].startswith('tools/'):
            _check_tool(where, args[0][len('tools/'):], args[1:])
        elif program == 'python' and args[:1] == ['-c']:
            run_python(['-c', args[1]], REPO)
        elif program == 'make':
            assert set(args) <= targets, f'{where}: make {args}'
        elif program == 'pip' and args[:1] == ['install']:
            for spec in args[1:]:
                if spec.startswith(('.', '-e')) and '[' in spec:
                    extras = spec[spec.index('[') + 1:spec.index(']')]
                    assert set(extras.split(',')) <= _extras(), where
        elif program == 'mim':
            command, package = args[0], args[1]
            assert package == 'cn_seg', where
            tool = dict(
                train='train.py', test='test.py').get(command, f'{args[2]}.py')
            assert osp.isfile(osp.join(TOOLS, tool)), f'{where}: {tool}'
        else:
            pytest.fail(f'{where}: a command the test does not know: '
                        f'{" ".join(words)}')
