"""Reference columns of ``bag score``: the model under test, and the trivial baselines of
core.backends.baselines lifted from the very same bag inputs without the node.

The baselines run the node's own path on the recorded keypoints (CameraInfo of the same stamp,
undistortion, core.pipeline.Lifter with the model's contract: normalisation and body-size
prior), so the only difference to the model column is the lift itself. They are scored on the
persons the model lifted (same stamp and id), so all columns average over the same poses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.backends.baselines import BASELINES, BaselineBackend
from ..core.contract import ModelContract
from ..core.metrics import pose_metrics
from ..core.pipeline import STATUS_TOO_FEW, Lifter
from ..core.undistort import CameraModel, undistort_points
from .tables import KeypointFrame


def resolve_model(explicit: str | None, replay: dict | None) -> Path:
    """The model the node lifted with: ``explicit`` (``bag score --model``), else the replay's
    ``--model`` or ``--param model:=``, else the shipped default model."""
    opts = (replay or {}).get('options') or {}
    chosen = explicit or opts.get('model') or (opts.get('node_params') or {}).get('model')
    if chosen:
        return Path(chosen)
    from ..resources import default_model
    return default_model()


def read_model(path: Path) -> tuple[ModelContract | None, str | None]:
    """(contract, None) of an ONNX model, or (None, why it could not be read)."""
    try:
        from ..core.backends.onnx_backend import read_contract
        return read_contract(path), None
    except Exception as exc:  # missing file, no onnxruntime, no/invalid contract
        return None, f'{type(exc).__name__}: {exc}'


def model_identity(model: str | None, node_params: dict | None, attach: bool) -> dict:
    """What ``bag replay`` records about the node's model: path and contract content hash
    (for an attached node without ``--model`` the model is unknown)."""
    if attach and not model:
        return {'path': None, 'note': 'attached to a running node: its model is not known '
                                      'here (bag score --model names it)'}
    path = resolve_model(None, {'options': {'model': model, 'node_params': node_params}})
    contract, error = read_model(path)
    if contract is None:
        return {'path': str(path), 'error': error}
    return {'path': str(path), 'content_hash': contract.content_hash}


def _camera(frame: KeypointFrame) -> CameraModel | None:
    info = frame.camera
    if info is None:
        return None
    try:
        return CameraModel.from_arrays(np.asarray(info.k), np.asarray(info.d),
                                       info.distortion_model, np.asarray(info.p))
    except ValueError:  # invalid K or distortion model: the node skips such frames too
        return None


def lift_frames(frames: list[KeypointFrame], lifter: Lifter
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lift every person of ``frames`` like the node does (one batch per joint format).

    Returns stamps (N,) int64, ids (N,) str and joints (N, 17, 3) metres in the camera frame
    (NaN rows for persons not lifted: too few joints, or no usable CameraInfo)."""
    groups: dict[str, list] = {}
    for f in frames:
        camera = _camera(f)
        if camera is None or not len(f.ids):
            continue
        px = undistort_points(f.keypoints, camera)
        K = np.broadcast_to(camera.K, (len(f.ids), 3, 3))
        groups.setdefault(f.joint_format, []).append((f.stamp, f.ids, px, f.confidence, K))
    stamps, ids, joints = [], [], []
    for fmt, parts in groups.items():
        res = lifter.lift(np.concatenate([p[2] for p in parts]),
                          np.concatenate([p[4] for p in parts]),
                          np.concatenate([p[3] for p in parts]), fmt)
        out = np.where((res.status == STATUS_TOO_FEW)[:, None, None], np.nan, res.joints3d)
        stamps += [s for p in parts for s in [p[0]] * len(p[1])]
        ids += [i for p in parts for i in p[1]]
        joints.append(out)
    if not joints:
        return np.zeros(0, np.int64), np.zeros(0, str), np.zeros((0, 17, 3))
    return np.asarray(stamps, np.int64), np.asarray(ids, str), np.concatenate(joints)


def baseline_metrics(frames: list[KeypointFrame], contract: ModelContract,
                     keys: list[tuple[int, str]], gt_mm: np.ndarray,
                     anchor_to_rays: bool = True) -> dict[str, dict]:
    """core.metrics.pose_metrics of each baseline on the persons ``keys`` ((stamp, id) of the
    model's lifted real persons; gt_mm (M, 17, 3) their ground truth in mm, same order).

    Returns {baseline: metrics | {'error': why}}; 'count' says how many of the M persons the
    baseline lifted (a baseline lifts every person with enough joints, as the model does)."""
    out: dict[str, dict] = {}
    for kind in BASELINES:
        try:
            lifter = Lifter(BaselineBackend(contract, kind), anchor_to_rays=anchor_to_rays)
        except Exception as exc:  # e.g. a contract without the mean pose
            out[kind] = {'error': f'{type(exc).__name__}: {exc}'}
            continue
        stamps, ids, joints = lift_frames(frames, lifter)
        index = {(int(s), str(i)): r for r, (s, i) in enumerate(zip(stamps, ids))}
        rows = np.asarray([index.get(k, -1) for k in keys], int)
        ok = rows >= 0
        ok[ok] = np.isfinite(joints[rows[ok]]).all(axis=(1, 2))
        if not ok.any():
            out[kind] = {'error': 'no person of the model column could be lifted'}
            continue
        out[kind] = pose_metrics(joints[rows[ok]] * 1000.0, gt_mm[ok])
    return out
