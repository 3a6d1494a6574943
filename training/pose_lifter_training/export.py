"""Export: one self-describing ONNX model (DESIGN §5), a model card, and a TensorRT engine.

ONNX graph: ``keypoints`` (N, 2*(J-1)) and ``noise`` (N, latent) float32 in; ``pose3d``
(N, J-1, 3) body units and ``realism`` (N,) out; dynamic N. ``metadata_props['pose_lifter']`` holds
``ModelContract.to_json()``; its ``content_hash`` is the sha256 of the serialized model without
that entry (``content_hash``). The TensorRT engine is built by the runtime's TensorRT module.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from pose_lifter.core.adapters import to_h36m17
from pose_lifter.core.camera import pixels_to_normalized
from pose_lifter.core.cameras import eval_views
from pose_lifter.core.contract import INPUT_NAMES, METADATA_KEY, OUTPUT_NAMES, ModelContract
from pose_lifter.core.detector_noise import DetectorNoise, synthesise_detections
from pose_lifter.core.normalization import normalise

from .checkpoint import load_checkpoint, realism_rule, restore
from .graph_opt import carry_tensors, optimize_graph
from .models import build_lifting_model

OPSET = 17


class TensorRTUnavailable(RuntimeError):
    """TensorRT (or cuda-python / a GPU) is not available on this machine."""


def content_hash(model: onnx.ModelProto) -> str:
    """sha256 of the serialized model with the ``pose_lifter`` metadata entry removed."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    keep = [(p.key, p.value) for p in copy.metadata_props if p.key != METADATA_KEY]
    del copy.metadata_props[:]
    for key, value in keep:
        entry = copy.metadata_props.add()
        entry.key, entry.value = key, value
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def read_contract(path: str | Path) -> ModelContract:
    model = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ValueError(f'{path} has no {METADATA_KEY!r} metadata')
    return ModelContract.from_json(props[METADATA_KEY])


def recalibrate(model, cfg, contract: ModelContract, data_path: str | None = None,
                noise: DetectorNoise | None = None, joint_format: str = 'h36m17',
                seed: int = 0, percentile: float | None = None) -> None:
    """Re-derive the realism threshold on the validation split (the contract's rule) and
    record the realism definition in the contract.

    With ``noise``, the validation persons are presented as a ``joint_format`` detector with
    that noise reports them (``core.detector_noise``), through the runtime's adapter and
    normalisation, so the threshold passes the contract's share of *detected* real persons;
    ``realism_calibration`` in the contract says which input that was.
    """
    from .data import load_splits
    from .evaluate import predict, realism_threshold
    val = load_splits(cfg.data, data_path).val
    if len(val) == 0:
        raise ValueError('no validation poses to calibrate the realism threshold on '
                         f'(validation subjects {cfg.data.val_subjects})')
    inputs = detector_inputs(val, noise or DetectorNoise(), joint_format,
                             np.random.default_rng(seed))
    realism = predict(model, inputs)['realism']
    pct = cfg.train.realism_percentile if percentile is None else float(percentile)
    contract.realism_rule = realism_rule(pct)
    contract.realism_threshold = realism_threshold(realism, pct)
    contract.realism_calibration = {
        'joint_format': joint_format, 'noise': (noise or DetectorNoise()).to_dict(),
        'subjects': list(cfg.data.val_subjects), 'percentile': pct, 'persons': len(inputs)}
    contract.training['config'] = cfg.to_dict()


def detector_inputs(poses, noise: DetectorNoise, joint_format: str,
                    rng: np.random.Generator, min_joints: int = 12) -> np.ndarray:
    """Network inputs (M, J-1, 2) of ``poses`` through the fixed evaluation cameras as a
    ``joint_format`` detector with ``noise`` reports them (liftable persons only)."""
    cam3d, _, K = eval_views(poses.joints.astype(np.float64))
    return detections_to_inputs(cam3d, K, noise, joint_format, rng, min_joints)


def detections_to_inputs(cam3d: np.ndarray, K: np.ndarray, noise: DetectorNoise,
                         joint_format: str, rng: np.random.Generator,
                         min_joints: int = 12) -> np.ndarray:
    """Camera-frame poses (N, 17, 3) with intrinsics (N, 3, 3) as a ``joint_format`` detector
    with ``noise`` reports them, through the runtime's adapter and normalisation -> network
    inputs (M, J-1, 2) of the liftable persons (at least ``min_joints`` joints seen)."""
    px, conf = synthesise_detections(cam3d, K, joint_format, noise, rng)
    kp, conf17 = to_h36m17(px, conf, joint_format)
    norm = normalise(pixels_to_normalized(kp, K))
    ok = norm.ok & ((conf17 > 0).sum(-1) >= min_joints)
    return norm.inputs[ok]


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = OPSET,
                card: bool = True, reproj_tau: float | None = None,
                data_path: str | None = None, calibration: DetectorNoise | None = None,
                calibration_format: str = 'h36m17',
                calibration_percentile: float | None = None,
                flip_average: bool | None = None) -> ModelContract:
    """Checkpoint -> ONNX file at ``out`` (and ``out`` with .md, the model card).

    ``flip_average`` (None: the config's ``model.flip_average``) makes the graph answer the
    mean of the pose and the mirrored-back pose of the mirrored input (test-time flip).
    ``reproj_tau`` overrides the config's ``model.realism_reproj_tau`` (realism multiplied by
    exp(-reprojection error / tau)). With ``reproj_tau`` or ``calibration`` the threshold is
    recalibrated on validation data, as ``calibration_format`` keypoints with that detector
    noise when given.
    """
    ckpt = load_checkpoint(checkpoint)
    cfg, generator, critic, contract = restore(ckpt)
    if 'mean_pose' in ckpt:   # the mean-pose baseline of `pose-lifter eval --baseline`
        contract.training['mean_pose_units'] = np.asarray(ckpt['mean_pose']).round(5).tolist()
    if reproj_tau is not None:
        cfg.model.realism_reproj_tau = float(reproj_tau)
    if flip_average is not None:       # a choice of the export: the contract records it
        cfg.model.flip_average = bool(flip_average)
        contract.training = dict(contract.training or {})
        contract.training['config'] = cfg.to_dict()
    model = build_lifting_model(generator, critic, cfg.model, cfg.loss).eval()
    if reproj_tau is not None or calibration is not None:
        recalibrate(model, cfg, contract, data_path, calibration, calibration_format,
                    percentile=calibration_percentile)
    write_model(model, contract, out, opset)
    if card:
        Path(out).with_suffix('.md').write_text(model_card(contract, Path(out).name))
    return contract


def write_model(model: torch.nn.Module, contract: ModelContract, out: str | Path,
                opset: int = OPSET, carry: dict[str, torch.Tensor] | None = None) -> None:
    """Export ``model`` (keypoints (N, 2(J-1)), noise (N, latent) -> pose3d, realism) to
    ``out`` with ``contract`` in its metadata; fills in ``contract.content_hash``.

    ``carry``: weights stored in the file under these names outside the inference graph (in
    the model's ``training_info``, which inference runtimes ignore): what the training tools
    read back, e.g. the critic of a gate that does not run it (``carry_weights``)."""
    example = (torch.zeros(2, contract.input_dim), torch.zeros(2, contract.latent_dim))
    buf = io.BytesIO()
    dynamic = {name: {0: 'N'} for name in INPUT_NAMES + OUTPUT_NAMES}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, example, buf, dynamo=False, input_names=list(INPUT_NAMES),
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
                          opset_version=opset, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    optimize_graph(proto)
    if carry:
        carry_weights(proto, carry)
    proto.producer_name = 'pose_lifter_training'
    proto.doc_string = 'pose_lifter 2D->3D lifter with realism critic; see metadata pose_lifter'
    save_model(proto, contract, out)


def save_model(proto: onnx.ModelProto, contract: ModelContract, out: str | Path,
               rehash: bool = True) -> None:
    """Write ``proto`` with ``contract`` as its metadata (replacing any), atomically; with
    ``rehash`` the contract's content hash is recomputed first (the graph changed)."""
    if rehash:
        contract.content_hash = content_hash(proto)
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    for key, value in keep + [(METADATA_KEY, contract.to_json())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + '.tmp')
    tmp.write_bytes(proto.SerializeToString())
    os.replace(tmp, out)


def optimize_model(path: str | Path, out: str | Path | None = None) -> int:
    """Rewrite an exported model's graph in the exporter's current form (``graph_opt``: the
    same answers, less CPU time) and write it to ``out`` (default: in place), its contract
    unchanged but for the content hash. Returns the number of rewrites (0: nothing written
    unless ``out`` is another path). Raises CheckpointError for a file that is not an
    exported model."""
    from .adapt import read_model
    proto, contract = read_model(path)
    count = optimize_graph(proto)
    if count or (out is not None and Path(out) != Path(path)):
        save_model(proto, contract, path if out is None else out)
    return count


CARRIED = 'pose_lifter_carried_weights'


def carry_weights(proto: onnx.ModelProto, weights: dict[str, torch.Tensor]) -> None:
    """Store ``weights`` in ``proto`` outside its inference graph: as the initializers of a
    ``training_info`` initialization graph named ``CARRIED`` (no nodes, no bindings), which
    ONNX Runtime and TensorRT ignore; ``adapt.onnx_state`` reads them back. ValueError for a
    name the graph already has."""
    taken = {i.name for i in proto.graph.initializer}
    clash = sorted(taken & set(weights))
    if clash:
        raise ValueError(f'carried weights {clash[:3]} are already in the graph')
    carry_tensors(proto, CARRIED, [
        numpy_helper.from_array(v.detach().cpu().numpy().astype(np.float32), k)
        for k, v in weights.items()])


def model_card(contract: ModelContract, name: str) -> str:
    """Markdown card: training data, measured validation accuracy, license terms."""
    t = contract.training
    data, val = t.get('data', {}), t.get('val_metrics', {})
    cfg = t.get('config', {})
    rows = '\n'.join(f'| {k} | {val[k]:.2f} |' for k in
                     ('mpjpe', 'n_mpjpe', 'pa_mpjpe', 'legacy_thesis') if k in val)
    return f"""# {name}

2D -> 3D human pose lifter (VAE, Budaraju 2021 / Chen et al. 2019) with a realism critic.
Preset `{cfg.get('preset', '?')}`, width {cfg.get('model', {}).get('width', '?')}, latent
{contract.latent_dim}, epoch {t.get('epoch', '?')} (selected on validation
{t.get('select_metric', '?')}).

Trained on `{data.get('file', '?')}`: subjects {data.get('train_subjects')} (2D from random
virtual cameras), validated on {data.get('val_subjects')}; the test subjects
{data.get('test_subjects')} were not used for training or selection.

Validation (fixed evaluation cameras, mm):

| metric | value |
|---|---|
{rows}

Realism threshold {contract.realism_threshold:.4f}: {contract.realism_rule}
{calibration_text(contract.realism_calibration)}.
Body-size prior `bone_sum_m` = {contract.bone_sum_m:.3f} m. Content hash `{contract.content_hash}`.

License: the CMU Graphics Lab Motion Capture Database terms apply to models trained on it (free
to use, may be included in commercial products, the data may not be resold). "The data used in
this project was obtained from mocap.cs.cmu.edu. The database was created with funding from NSF
EIA-0196217." Human3.6M-trained models are for non-commercial research only.
"""


def calibration_text(cal: dict) -> str:
    """One phrase: which input the realism threshold was calibrated on."""
    if not cal:
        return 'on exact H36M-17 projections'
    n = cal.get('noise', {})
    return (f"on {cal.get('joint_format')} keypoints with detector noise "
            f"{n.get('noise_px', 0):g} px + {n.get('size_frac', 0):g} x person height, "
            f"{100 * n.get('drop_prob', 0):g} % dropped, {100 * n.get('low_conf_prob', 0):g} % "
            'badly localised joints')


def build_tensorrt_engine(onnx_path: str | Path, cache_dir: str | Path | None = None,
                          max_persons: int = 64, fp16: bool = True) -> Path:
    """Build (or reuse) the TensorRT engine of an exported model; returns its path.

    Delegates to the runtime's ``core.backends.tensorrt_backend.build_engine`` (dynamic batch
    1..max_persons, FP16 where supported, cached under model hash + TensorRT version + compute
    capability + precision), so the node finds exactly the engine built here.
    """
    from pose_lifter.core.backends.base import BackendError
    from pose_lifter.core.backends.tensorrt_backend import build_engine
    try:
        return build_engine(onnx_path, cache_dir, max_persons, fp16)
    except BackendError as exc:
        if 'not installed' in str(exc) or 'cuda-python' in str(exc):
            raise TensorRTUnavailable(f'{exc}; export the ONNX model and build the engine '
                                      'where TensorRT and a GPU are available') from None
        raise
