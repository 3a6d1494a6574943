"""TensorRT backend (docs/model-contract.md), written against the documented TensorRT 10
Python API.

The engine is built from the self-describing ONNX model (dynamic batch 1..max_persons, FP16
where the GPU supports it) and cached under a name keyed by the model's content hash, the
TensorRT version, the GPU's compute capability and the precision, so a change of any of them
rebuilds it. tensorrt and cuda-python are imported here only, lazily.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import Backend, BackendError
from .onnx_backend import read_contract


def _imports():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendError(f'TensorRT is not installed ({exc})') from None
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError as exc:
            raise BackendError(f'cuda-python is needed for the TensorRT backend ({exc})'
                               ) from None
    return trt, cudart


def _check(result):
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendError(f'CUDA error {err}')
    return rest[0] if len(rest) == 1 else rest


def compute_capability(cudart, device: int = 0) -> str:
    props = _check(cudart.cudaGetDeviceProperties(device))
    return f'sm{props.major}{props.minor}'


def engine_cache_path(cache_dir: Path, content_hash: str, trt_version: str, capability: str,
                      precision: str, max_persons: int) -> Path:
    """The cache file name: every input that invalidates an engine is part of the key (the
    batch profile too: an engine built for fewer persons cannot take a larger batch)."""
    name = f'{content_hash[:16]}_trt{trt_version}_{capability}_{precision}_b{max_persons}.engine'
    return Path(cache_dir) / name


def build_engine(onnx_path: str | Path, cache_dir: str | Path | None = None,
                 max_persons: int = 64, fp16: bool = True) -> Path:
    """Build (or reuse) the engine for an ONNX model; returns the engine file's path."""
    trt, cudart = _imports()
    contract = read_contract(onnx_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    precision = 'fp16' if fp16 and builder.platform_has_fast_fp16 else 'fp32'
    cache_dir = Path(cache_dir or os.environ.get('POSE_LIFTER_ENGINE_CACHE',
                                                 Path.home() / '.cache' / 'pose_lifter'))
    path = engine_cache_path(cache_dir, contract.content_hash, trt.__version__,
                             compute_capability(cudart), precision, max_persons)
    if path.is_file():
        return path
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    if precision == 'fp16':
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    widths = {contract.inputs[0]: contract.input_dim, contract.inputs[1]: contract.latent_dim}
    for name, width in widths.items():
        profile.set_shape(name, (1, width), (max(1, max_persons // 4), width),
                          (max_persons, width))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f'TensorRT failed to build an engine for {onnx_path}')
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    tmp.write_bytes(bytes(serialized))
    tmp.replace(path)
    return path


class TensorRTBackend(Backend):
    """Runs a cached TensorRT engine; inputs are copied to the GPU per call."""

    name = 'tensorrt'
    device = 'cuda'

    def __init__(self, model: str | Path, cache_dir: str | Path | None = None,
                 max_persons: int = 64, fp16: bool = True):
        trt, self._cudart = _imports()
        super().__init__(read_contract(model))
        engine_path = build_engine(model, cache_dir, max_persons, fp16)
        self.precision = 'fp16' if '_fp16' in engine_path.name else 'fp32'
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise BackendError(f'cannot deserialize {engine_path}; delete it to rebuild')
        self.context = self.engine.create_execution_context()
        self.stream = _check(self._cudart.cudaStreamCreate())
        self.max_persons = max_persons
        self._buffers: dict[str, tuple[int, int]] = {}

    def _device(self, name: str, nbytes: int) -> int:
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                _check(self._cudart.cudaFree(ptr))
            ptr = _check(self._cudart.cudaMalloc(nbytes))
            self._buffers[name] = (ptr, nbytes)
        return ptr

    def _infer(self, keypoints: np.ndarray, noise: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        n = len(keypoints)
        if n > self.max_persons:  # the engine's profile ends there: run in chunks
            parts = [self._infer(keypoints[i:i + self.max_persons],
                                 noise[i:i + self.max_persons])
                     for i in range(0, n, self.max_persons)]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        cu = self._cudart
        kinds = cu.cudaMemcpyKind
        h2d, d2h = kinds.cudaMemcpyHostToDevice, kinds.cudaMemcpyDeviceToHost
        feeds = {self.contract.inputs[0]: np.ascontiguousarray(keypoints, np.float32),
                 self.contract.inputs[1]: np.ascontiguousarray(noise, np.float32)}
        for name, host in feeds.items():
            self.context.set_input_shape(name, host.shape)
            ptr = self._device(name, host.nbytes)
            _check(cu.cudaMemcpyAsync(ptr, host.ctypes.data, host.nbytes, h2d, self.stream))
            self.context.set_tensor_address(name, ptr)
        outputs = {}
        for name in self.contract.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            outputs[name] = np.empty(shape, np.float32)
            self.context.set_tensor_address(name, self._device(name, outputs[name].nbytes))
        if not self.context.execute_async_v3(self.stream):
            raise BackendError('TensorRT execution failed')
        for name, host in outputs.items():
            _check(cu.cudaMemcpyAsync(host.ctypes.data, self._buffers[name][0], host.nbytes,
                                      d2h, self.stream))
        _check(cu.cudaStreamSynchronize(self.stream))
        return outputs[self.contract.outputs[0]], outputs[self.contract.outputs[1]]

    def close(self) -> None:
        for ptr, _ in getattr(self, '_buffers', {}).values():
            self._cudart.cudaFree(ptr)
        self._buffers = {}
        if getattr(self, 'stream', None) is not None:
            self._cudart.cudaStreamDestroy(self.stream)
            self.stream = None

    def __del__(self):
        self.close()
