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

from pose_lifter.core.contract import INPUT_NAMES, METADATA_KEY, OUTPUT_NAMES, ModelContract

from .checkpoint import load_checkpoint, restore
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


def recalibrate(model, cfg, contract: ModelContract, data_path: str | None = None) -> None:
    """Re-derive the realism threshold on the validation split (the contract's rule) after
    the exported realism changed; records the realism definition in the contract."""
    from .data import build_eval_set, load_splits
    from .evaluate import predict, realism_threshold
    es = build_eval_set(load_splits(cfg.data, data_path).val)
    realism = predict(model, es.inputs)['realism']
    contract.realism_threshold = realism_threshold(realism, cfg.train.realism_percentile)
    contract.training['config'] = cfg.to_dict()


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = OPSET,
                card: bool = True, reproj_tau: float | None = None,
                data_path: str | None = None) -> ModelContract:
    """Checkpoint -> ONNX file at ``out`` (and ``out`` with .md, the model card).

    ``reproj_tau`` overrides the config's ``model.realism_reproj_tau`` (realism multiplied by
    exp(-reprojection error / tau)); the threshold is then recalibrated on validation data.
    """
    ckpt = load_checkpoint(checkpoint)
    cfg, generator, critic, contract = restore(ckpt)
    if 'mean_pose' in ckpt:   # the mean-pose baseline of `pose-lifter eval --baseline`
        contract.training['mean_pose_units'] = np.asarray(ckpt['mean_pose']).round(5).tolist()
    if reproj_tau is not None:
        cfg.model.realism_reproj_tau = float(reproj_tau)
    model = build_lifting_model(generator, critic, cfg.model, cfg.loss).eval()
    if reproj_tau is not None:
        recalibrate(model, cfg, contract, data_path)
    n_in = model.generator.encoder.stem[0].in_features
    example = (torch.zeros(2, n_in), torch.zeros(2, cfg.model.latent))
    buf = io.BytesIO()
    dynamic = {name: {0: 'N'} for name in INPUT_NAMES + OUTPUT_NAMES}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, example, buf, dynamo=False, input_names=list(INPUT_NAMES),
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
                          opset_version=opset, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    proto.producer_name = 'pose_lifter_training'
    proto.doc_string = 'pose_lifter 2D->3D lifter with realism critic; see metadata pose_lifter'
    contract.content_hash = content_hash(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, contract.to_json()
    onnx.checker.check_model(proto)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + '.tmp')
    tmp.write_bytes(proto.SerializeToString())
    os.replace(tmp, out)
    if card:
        out.with_suffix('.md').write_text(model_card(contract, out.name))
    return contract


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

Realism threshold {contract.realism_threshold:.4f}: {contract.realism_rule}.
Body-size prior `bone_sum_m` = {contract.bone_sum_m:.3f} m. Content hash `{contract.content_hash}`.

License: the CMU Graphics Lab Motion Capture Database terms apply to models trained on it (free
to use, may be included in commercial products, the data may not be resold). "The data used in
this project was obtained from mocap.cs.cmu.edu. The database was created with funding from NSF
EIA-0196217." Human3.6M-trained models are for non-commercial research only.
"""


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
