"""Loading user files never runs code by default; onnxruntime telemetry is off.

The crafted files below hold a pickle that creates a marker file when it is unpickled: a loader
that unpickles them leaves the marker behind.
"""
from __future__ import annotations

import numpy as np
import pytest

from pose_lifter.core.poses import PoseFileError, UntrustedPickle, load_videopose3d


class _CreatesFile:
    """Unpickling this calls ``open(path, 'w')``: the file exists afterwards."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


def crafted(path, key: str, marker) -> None:
    payload = np.empty((), dtype=object)
    payload[()] = {'S1': {'Walking': _CreatesFile(marker)}}
    np.savez(path, **{key: payload})


def test_the_crafted_file_is_really_dangerous(tmp_path):
    """Guard for the tests below: with trust_pickle the payload does run."""
    marker = tmp_path / 'pwned'
    crafted(tmp_path / 'evil.npz', 'positions_3d', marker)
    with pytest.raises(PoseFileError):       # then fails on the layout, but too late
        load_videopose3d(tmp_path / 'evil.npz', trust_pickle=True)
    assert marker.exists()


def test_videopose3d_3d_refuses_pickles_by_default(tmp_path):
    marker = tmp_path / 'pwned'
    crafted(tmp_path / 'evil.npz', 'positions_3d', marker)
    with pytest.raises(UntrustedPickle, match='trust_pickle'):
        load_videopose3d(tmp_path / 'evil.npz')
    assert not marker.exists()


def test_training_sources_refuse_pickles_by_default(tmp_path):
    pytest.importorskip('torch')
    from pose_lifter_training.sources import load_poses, load_videopose3d_2d
    marker = tmp_path / 'pwned'
    crafted(tmp_path / 'evil3d.npz', 'positions_3d', marker)
    crafted(tmp_path / 'evil2d.npz', 'positions_2d', marker)
    with pytest.raises(UntrustedPickle):
        load_poses(tmp_path / 'evil3d.npz')
    with pytest.raises(UntrustedPickle):
        load_videopose3d_2d(tmp_path / 'evil2d.npz')
    assert not marker.exists()


def test_train_cli_refuses_a_crafted_file_in_one_line(tmp_path, capsys):
    pytest.importorskip('torch')
    from pose_lifter_training.cli import main
    marker = tmp_path / 'pwned'
    crafted(tmp_path / 'evil.npz', 'positions_3d', marker)
    code = main(['fit', '--data', str(tmp_path / 'evil.npz'), '--out', str(tmp_path / 'run')])
    err = capsys.readouterr().err
    assert not marker.exists()
    assert code == 2 and 'Traceback' not in err and len(err.strip().splitlines()) == 1
    assert 'data.trust_pickle=true' in err


def test_training_config_passes_the_opt_in_to_the_2d_file(tmp_path):
    pytest.importorskip('torch')
    from pose_lifter_training.config import DataConfig
    from pose_lifter_training.data import load_splits
    marker = tmp_path / 'pwned'
    crafted(tmp_path / 'evil2d.npz', 'positions_2d', marker)
    cfg = DataConfig(path='', extra_2d=str(tmp_path / 'evil2d.npz'))
    with pytest.raises(UntrustedPickle):
        load_splits(cfg)
    assert not marker.exists()
    cfg.trust_pickle = True           # the opt-in reaches the loader (and the payload runs)
    with pytest.raises(PoseFileError):
        load_splits(cfg)
    assert marker.exists()


def test_onnxruntime_telemetry_is_disabled_where_sessions_are_made(tiny_model, monkeypatch):
    ort = pytest.importorskip('onnxruntime')
    from pose_lifter.core.backends import create_backend
    calls = []
    monkeypatch.setattr(ort, 'disable_telemetry_events', lambda: calls.append(1),
                        raising=False)
    backend = create_backend(tiny_model, 'onnxruntime')
    backend.close()
    assert calls, 'the ONNX Runtime backend opened a session with telemetry left on'
