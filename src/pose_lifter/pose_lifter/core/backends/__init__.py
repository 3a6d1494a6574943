"""Backends behind one interface, picked by ``create_backend`` with fallback.

Order for ``auto``: TensorRT -> ONNX Runtime CUDA -> ONNX Runtime CPU. Only
``tensorrt_backend`` imports tensorrt, and only when asked for.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .base import Backend, BackendError

__all__ = ['Backend', 'BackendError', 'create_backend', 'BACKENDS']

BACKENDS = ('auto', 'onnxruntime', 'onnxruntime-cuda', 'tensorrt', 'torch')
log = logging.getLogger(__name__)


def create_backend(model: str | Path, backend: str = 'auto', **options) -> Backend:
    """Build a backend for ``model`` (an ONNX file; a checkpoint for ``torch``).

    ``auto`` tries TensorRT, then ONNX Runtime on CUDA, then ONNX Runtime on CPU, and logs why
    each faster option was skipped. An explicitly named backend raises BackendError instead.
    """
    if backend not in BACKENDS:
        raise BackendError(f'unknown backend {backend!r}; choose one of {list(BACKENDS)}')
    from .onnx_backend import OnnxBackend

    if backend == 'onnxruntime':
        return OnnxBackend(model, device='cpu', threads=options.get('threads', 0))
    if backend == 'onnxruntime-cuda':
        return OnnxBackend(model, device='cuda')
    if backend == 'tensorrt':
        from .tensorrt_backend import TensorRTBackend
        return TensorRTBackend(model, **{k: v for k, v in options.items() if k != 'threads'})
    if backend == 'torch':
        try:
            from pose_lifter_training.backend import TorchBackend
        except ImportError as exc:
            raise BackendError(f'the torch backend needs pose_lifter_training and torch: {exc}'
                               ) from None
        return TorchBackend(model)
    # auto: fail fast on a bad model file before trying accelerators.
    cpu = OnnxBackend(model, device='cpu', threads=options.get('threads', 0))
    for name in ('tensorrt', 'onnxruntime-cuda'):
        try:
            return create_backend(model, name, **options)
        except (BackendError, ImportError, OSError) as exc:
            log.info('backend %s not used: %s', name, exc)
    return cpu
