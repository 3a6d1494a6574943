"""scripts/operating_point.py: the gate's threshold percentile chosen on validation alone."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from model_factory import build_tiny_model

from pose_lifter.core.backends import create_backend

ROOT = Path(__file__).resolve().parents[2]


def _run(model: Path, pose_file: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(ROOT / 'src' / 'pose_lifter'), str(ROOT / 'training')])}
    return subprocess.run([sys.executable, str(ROOT / 'scripts' / 'operating_point.py'),
                           str(model), '--data', str(pose_file), '--subjects', 'v1',
                           '--percentiles', '1', '5', '20', *extra],
                          capture_output=True, text=True, env=env, timeout=600)


def test_largest_percentile_that_keeps_the_acceptance(tmp_path, pose_file):
    model = build_tiny_model(tmp_path / 'm.onnx')
    out = tmp_path / 'chosen.onnx'
    done = _run(model, pose_file, '--min-accepted', '0.5', '--out', str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{')]
    assert [r['percentile'] for r in rows] == [1, 5, 20]
    accepted = [r['accepted'] for r in rows]
    assert accepted == sorted(accepted, reverse=True)      # a higher percentile accepts fewer
    chosen = max(r['percentile'] for r in rows if r['accepted'] >= 0.5)
    assert f'chose percentile {chosen:g}' in done.stdout
    contract = create_backend(out, 'onnxruntime').contract
    assert contract.realism_calibration['percentile'] == chosen
    assert contract.realism_calibration['joint_format'] == 'coco17'


def test_no_percentile_keeps_the_acceptance_is_an_error(tmp_path, pose_file):
    model = build_tiny_model(tmp_path / 'm.onnx')
    shutil.copy(model, tmp_path / 'before.onnx')
    done = _run(model, pose_file, '--min-accepted', '1.01')
    assert done.returncode == 1 and 'no percentile keeps' in done.stderr
    assert model.read_bytes() == (tmp_path / 'before.onnx').read_bytes()   # left untouched
