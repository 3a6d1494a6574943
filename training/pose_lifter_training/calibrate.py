"""Recalibrate the realism threshold of an exported ONNX model for a detector's noise.

The threshold a model ships with is the contract's percentile of the realism of real
validation persons. Realism falls with detector noise (the reprojection part of it), so a
threshold calibrated on exact projections rejects many real detections. This rewrites the
contract of any exported model (no checkpoint needed: inference runs through the runtime's
ONNX Runtime backend) with a threshold calibrated on the validation subjects as a
``joint_format`` detector with the given noise reports them, and records that noise in
``realism_calibration``. The graph and its ``content_hash`` stay the same.

The same persons also calibrate the uncertainty (``core.uncertainty``): lifted through the
runtime pipeline as they are and with their legs or one side hidden (``--occlude`` of
``pose-lifter eval``), the 90 % radius of the root-relative error of every joint, seen and
inferred, and the root's relative depth/lateral error go into ``uncertainty_calibration``.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx

from pose_lifter.core.backends import create_backend
from pose_lifter.core.backends.base import Backend
from pose_lifter.core.cameras import eval_views
from pose_lifter.core.contract import ContractError, ModelContract
from pose_lifter.core.detector_noise import DetectorNoise, synthesise_detections
from pose_lifter.core.evaluation import OCCLUSIONS, occlude_inputs
from pose_lifter.core.pipeline import Lifter
from pose_lifter.core.poses import PoseFileError, PoseSet
from pose_lifter.core.track_gate import TrackGate, TrackHistory, judge_frame
from pose_lifter.core.uncertainty import NOMINAL, UncertaintyCalibration, calibrate

from .checkpoint import ordinal, realism_rule
from .export import detector_inputs, save_model
from .sources import load_poses
from .sources2d import Source2DError, bag_frames, load_2d


def calibrate_model(model_path: str | Path, data_path: str | Path, subjects: list[str],
                    noise: DetectorNoise, joint_format: str, percentile: float = 5.0,
                    fps: float = 10.0, seed: int = 0, out: str | Path | None = None
                    ) -> ModelContract:
    """Write ``out`` (default: in place) with the recalibrated contract; returns it."""
    poses = load_poses(str(data_path)).subjects_only(subjects).subsample(fps)
    if len(poses) == 0:
        raise PoseFileError(f'no poses of subjects {subjects} in {data_path}')
    backend = create_backend(model_path, 'onnxruntime')
    inputs = detector_inputs(poses, noise, joint_format, np.random.default_rng(seed))
    if len(inputs) == 0:
        raise PoseFileError('no liftable person to calibrate on (noise or drop too high?)')
    _, realism = backend.infer(inputs.reshape(len(inputs), -1))
    contract = backend.contract
    contract.uncertainty_calibration = calibrate_uncertainty(
        backend, poses, noise, joint_format, seed).to_dict()
    contract.uncertainty_calibration.update(
        {'joint_format': joint_format, 'noise': noise.to_dict(), 'subjects': list(subjects),
         'occlusions': ['none'] + sorted(OCCLUSIONS)})
    backend.close()
    contract.realism_threshold = float(np.percentile(realism, percentile))
    contract.realism_rule = realism_rule(percentile)
    contract.realism_calibration = {
        'joint_format': joint_format, 'noise': noise.to_dict(), 'subjects': list(subjects),
        'percentile': float(percentile), 'persons': int(len(inputs)),
        'data': Path(data_path).name}
    write_contract(model_path, contract, out)
    return contract


def calibrate_uncertainty(backend: Backend, poses: PoseSet, noise: DetectorNoise,
                          joint_format: str, seed: int = 0, nominal: float = NOMINAL
                          ) -> UncertaintyCalibration:
    """Radii from ``poses`` through the evaluation cameras as ``joint_format`` detections with
    ``noise``: once as seen, once per occlusion (``OCCLUSIONS``), pooled."""
    rng = np.random.default_rng(seed + 1)
    lifter = Lifter(backend, anchor_to_rays=True)
    cam3d, _, K = eval_views(poses.joints.astype(np.float64))
    px, conf = synthesise_detections(cam3d, K, joint_format, noise, rng)
    preds, gts, hidden = [], [], []
    for occlude in [None] + sorted(OCCLUSIONS):
        c = conf if occlude is None else occlude_inputs(conf, px.shape, occlude, joint_format)
        parts = [lifter.lift(px[i:i + 4096], K[i:i + 4096], c[i:i + 4096], joint_format)
                 for i in range(0, len(px), 4096)]
        preds += [p.joints3d for p in parts]
        hidden += [p.inferred for p in parts]
        gts.append(cam3d)
    return calibrate(np.concatenate(preds), np.concatenate(gts), np.concatenate(hidden),
                     nominal)


def calibrate_on_2d(model_path: str | Path, source: str | Path, percentile: float = 5.0,
                    out: str | Path | None = None, keypoints_topic: str | None = None,
                    camera_info_topic: str | None = None) -> ModelContract:
    """The realism threshold from the user's own unlabelled 2D (a bag or kp.npz, every
    person of it, through ``sources2d``): the ``percentile`` of their realism. For a model
    meant for cameras the evaluation views do not cover (e.g. distilled for cameras mounted
    high). The uncertainty calibration is kept. Writes ``out`` (default: in place)."""
    src = load_2d(source, keypoints_topic, camera_info_topic)
    every = src.all_rows()
    rows = every.inputs * every.visible[..., None]
    backend = create_backend(model_path, 'onnxruntime')
    realism = np.concatenate([backend.infer(rows[s:s + 4096].reshape(-1, rows[0].size))[1]
                              for s in range(0, len(rows), 4096)])
    contract = backend.contract
    backend.close()
    contract.realism_threshold = float(np.percentile(realism, percentile))
    contract.realism_rule = (f'realism_threshold = {ordinal(percentile)} percentile of the '
                             f'realism of the persons of a 2D recording ({Path(source).name}): '
                             f'about {100 - percentile:g} % of them pass')
    contract.realism_calibration = {
        'data_2d': Path(source).name, 'percentile': float(percentile),
        'persons': int(len(rows)), 'skipped': src.skipped}
    write_contract(model_path, contract, out)
    return contract


MIN_TRACKED = 50     # persons with a previous detection needed for a track gate threshold


def track_gate_on_2d(model_path: str | Path, source: str | Path, percentile: float = 3.0,
                     keypoints_topic: str | None = None, camera_info_topic: str | None = None
                     ) -> dict:
    """The model's track gate with its threshold from the user's own tracked 2D (a bag):
    every frame lifted and judged as the node does it, in bag order (each track's previous
    detection within the gate's ``max_gap_s`` as the reference, every lifted person counted
    as real), threshold = the ``percentile`` of the combined realism of the persons that have
    one (the frame-alone threshold plays no part for them). Returns the contract's new
    ``track_gate`` dict. Raises Source2DError for a source without enough tracked persons,
    ContractError for a model without a track gate."""
    source = Path(source)
    if source.is_file() and source.suffix == '.npz':
        raise Source2DError(f'{source}: a kp.npz has no track ids; the track gate needs a bag '
                            "of the detector's Skeleton2DArray with ids")
    backend = create_backend(model_path, 'onnxruntime')
    try:
        spec = backend.contract.track_gate
        if not spec:
            raise ContractError(f'{model_path} has no track gate (pose-lifter-train '
                                'track-gate)')
        gate = TrackGate.from_dict(spec)
        lifter = Lifter(backend)
        history = TrackHistory(gate.max_gap_s)
        combined, skipped, persons = [], Counter(), 0
        for fr in bag_frames(source, keypoints_topic, camera_info_topic, skipped, {}):
            persons += len(fr.ids)
            result = lifter.lift(fr.keypoints, fr.K, fr.confidence, fr.joint_format)
            realism, _, _, dt = judge_frame(
                gate, history, fr.frame_id, fr.ids, fr.stamp_ns, fr.joint_format, fr.keypoints,
                fr.confidence, lifter.min_confidence, result.realism, result.status,
                lifter.threshold, keep=np.isfinite(result.realism))
            combined.append(realism[np.isfinite(dt) & np.isfinite(realism)])
    finally:
        backend.close()
    combined = np.concatenate(combined) if combined else np.zeros(0)
    if len(combined) < MIN_TRACKED:
        raise Source2DError(
            f'{source}: {len(combined)} of {persons} persons have a previous detection of '
            f'their track within {gate.max_gap_s:g} s (at least {MIN_TRACKED} needed): the '
            "track gate needs the detector's track ids (Skeleton2D.id) on consecutive frames")
    threshold = float(np.clip(np.percentile(combined, percentile), 1e-6, 1.0 - 1e-6))
    return {**spec, 'threshold': threshold,
            'rule': (f'threshold = {ordinal(percentile)} percentile of the combined realism of '
                     f'the persons with a previous detection in a 2D recording '
                     f'({source.name}): about {100 - percentile:g} % of them pass'),
            'threshold_calibration': {'data_2d': source.name, 'percentile': float(percentile),
                                      'persons': int(len(combined)),
                                      'skipped': {k: int(v) for k, v in skipped.items()}}}


def write_contract(model_path: str | Path, contract: ModelContract,
                   out: str | Path | None = None) -> None:
    """Rewrite the contract in the model's metadata (graph unchanged) at ``out`` or in place."""
    save_model(onnx.load(str(model_path)), contract, out or model_path, rehash=False)
