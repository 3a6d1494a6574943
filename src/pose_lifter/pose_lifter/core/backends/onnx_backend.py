"""ONNX Runtime backend: CPU by default, CUDA when the provider is there and works."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import METADATA_KEY, ContractError, ModelContract
from .base import Backend, BackendError, ModelFileError


def _import_ort():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - runtime dependency
        raise BackendError(f'onnxruntime is not installed: {exc}') from None
    # telemetry off before any session exists (a no-op where the build records none)
    disable = getattr(onnxruntime, 'disable_telemetry_events', None)
    if disable is not None:
        disable()
    return onnxruntime


def read_contract(path: str | Path) -> ModelContract:
    """The model contract of an ONNX file (raises BackendError/ContractError with the reason)."""
    return _open_session(path, ['CPUExecutionProvider'])[1]


def _open_session(path: str | Path, providers: list[str], threads: int = 0):
    ort = _import_ort()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f'model file not found: {path}')
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    # Pool threads sleep between runs instead of spinning a core for the next one (issue 9:
    # spinning cost 77-97 % of a core at 30 Hz); the caller's thread never spins.
    opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
    opts.add_session_config_entry('session.inter_op.allow_spinning', '0')
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelFileError(f'cannot load model {path}: not a valid ONNX model ({exc})'
                             ) from None
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ContractError(f'{path} has no pose_lifter contract in its metadata '
                            f'(key {METADATA_KEY!r}); export it with pose-lifter-train export')
    contract = ModelContract.from_json(meta[METADATA_KEY])
    names_in = [i.name for i in session.get_inputs()]
    names_out = [o.name for o in session.get_outputs()]
    if names_in != contract.inputs or names_out != contract.outputs:
        raise ContractError(f'{path}: graph inputs/outputs {names_in}/{names_out} do not match '
                            f'the contract {contract.inputs}/{contract.outputs}')
    return session, contract


class OnnxBackend(Backend):
    """ONNX Runtime session over the self-describing model."""

    name = 'onnxruntime'

    def __init__(self, path: str | Path, device: str = 'cpu', threads: int = 0):
        ort = _import_ort()
        providers = ['CPUExecutionProvider']
        if device == 'cuda':
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise BackendError('onnxruntime has no CUDAExecutionProvider here '
                                   f'(available: {ort.get_available_providers()})')
            providers = ['CUDAExecutionProvider', 'CPUExecutionProvider']
        self.session, contract = _open_session(path, providers, threads)
        super().__init__(contract)
        # A CUDA provider that failed to initialise silently falls back: report the truth.
        used = self.session.get_providers()
        if device == 'cuda' and 'CUDAExecutionProvider' not in used:
            raise BackendError(f'CUDA provider requested but the session runs on {used}')
        self.device = 'cuda' if 'CUDAExecutionProvider' in used else 'cpu'
        self.path = Path(path)

    def _infer(self, keypoints: np.ndarray, noise: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        pose, realism = self.session.run(
            list(self.contract.outputs),
            {self.contract.inputs[0]: keypoints, self.contract.inputs[1]: noise})
        return pose, realism
