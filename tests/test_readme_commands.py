"""Every command of README.md's "Command line" section runs as written from a fresh clone.

The commands run in a temporary folder that holds only what a clone has (links to the
repository's .venv and models/), so outputs land there and any input the README uses without
shipping it makes the test fail. Training (too slow for a test) runs as ``--help``; ``make``
lines are not run here.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
VENV_BIN = Path(sys.prefix) / 'bin'


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of a Markdown text."""
    match = re.search(rf'^## {re.escape(heading)}\n(.*?)(?=^## |\Z)', text, re.S | re.M)
    assert match, f'README.md has no "## {heading}" section'
    return match.group(1)


def bash_commands(markdown: str) -> list[str]:
    """The commands of the fenced bash blocks (comments dropped, continuations joined)."""
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', markdown, re.S):
        joined = re.sub(r'\\\n\s*', ' ', block)
        for line in joined.splitlines():
            command = line.split('  #')[0].split(' # ')[0].strip()
            if command and not command.startswith('#'):
                commands.append(command)
    return commands


COMMANDS = bash_commands(section(README.read_text(), 'Command line'))


def as_run(command: str) -> list[str] | None:
    """The argv to run for a README command (None: not run here)."""
    argv = shlex.split(command)
    if argv[0] == 'make':
        return None
    if Path(argv[0]).name == 'pose-lifter-train':
        return [argv[0], argv[1], '--help']
    return argv


def test_the_section_has_the_commands_users_need():
    names = [shlex.split(c)[:2] for c in COMMANDS]
    assert ['.venv/bin/pose-lifter', 'lift'] in names
    assert ['.venv/bin/pose-lifter', 'eval'] in names
    assert ['.venv/bin/pose-lifter', 'bench'] in names
    assert all(c.startswith(('.venv/bin/', 'make ')) for c in COMMANDS), COMMANDS


@pytest.fixture(scope='module')
def clone(tmp_path_factory) -> Path:
    """A folder with the files of a clone that the commands may read."""
    if not (VENV_BIN / 'pose-lifter').is_file():
        pytest.skip(f'pose-lifter is not installed in {sys.prefix} (run make setup)')
    folder = tmp_path_factory.mktemp('clone')
    (folder / '.venv').symlink_to(Path(sys.prefix))
    (folder / 'models').symlink_to(ROOT / 'models')
    return folder


@pytest.mark.slow
@pytest.mark.parametrize('command', COMMANDS)
def test_readme_command_runs_as_written(command, clone):
    argv = as_run(command)
    if argv is None:
        pytest.skip('make targets run as `make test` / `make demo` themselves')
    env = {**os.environ, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
           'ROS_DOMAIN_ID': str(1 + (os.getpid() * 7 + len(command)) % 200)}
    done = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f'{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}'
    sub = argv[1] if len(argv) > 1 else ''
    if sub == 'lift':
        out = np.load(clone / argv[argv.index('--output') + 1])
        kp = np.load(clone / argv[argv.index('--input') + 1])
        assert out['joints3d'].shape == (len(kp['keypoints']), 17, 3)
        assert (out['status'] == 'ok').mean() > 0.5
    elif '--json' in argv:
        assert (clone / argv[argv.index('--json') + 1]).stat().st_size > 0
