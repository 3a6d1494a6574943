"""scripts/node_stages.py: the node's per-frame stages, timed in-process (its own domain)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from node_support import fresh_domain_id, subprocess_env

pytest.importorskip('pose_lifter_msgs.msg', reason='pose_lifter_msgs not built')
ROOT = Path(__file__).resolve().parents[2]
STAGES = {'read_frame', 'lift', 'temporal_filter', 'result_to_msg', 'publish_skeletons',
          'skeleton_markers', 'marker_messages', 'publish_markers'}


def test_every_stage_of_a_frame_is_timed_back_to_back_and_paced(tmp_path):
    env = subprocess_env(fresh_domain_id())
    done = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'node_stages.py'),
                           '--persons', '2', '--frames', '20', '--pace', '0.005',
                           '--json', str(tmp_path / 'stages.json')],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads((tmp_path / 'stages.json').read_text())
    for label in ('back_to_back', 'paced'):
        row = out[label]
        assert set(row) == STAGES | {'process'}
        assert 0 < sum(v for k, v in row.items() if k != 'process') <= row['process'] * 1.2
