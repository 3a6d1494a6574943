"""Backends behind one interface, picked by ``create_backend`` with fallback.

Order for ``auto``: TensorRT -> ONNX Runtime CUDA -> ONNX Runtime CPU. Only
``tensorrt_backend`` imports tensorrt, and only when asked for.

The runtime never imports the training package: a backend that lives elsewhere (``torch``,
served from a training checkpoint by ``pose_lifter_training.backend``) registers a factory with
``register_backend`` when its module is imported, or is found through the entry point group
``pose_lifter.backends`` (``name = "module:factory"``) the first time it is asked for.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from .base import Backend, BackendError, ModelFileError

__all__ = ['Backend', 'BackendError', 'ModelFileError', 'create_backend', 'register_backend',
           'BACKENDS', 'ENTRY_POINT_GROUP']

BACKENDS = ('auto', 'onnxruntime', 'onnxruntime-cuda', 'tensorrt', 'torch')
ENTRY_POINT_GROUP = 'pose_lifter.backends'
# Backends provided by other packages: name -> factory(model, **options) -> Backend.
_PLUGINS: dict[str, Callable[..., Backend]] = {}
log = logging.getLogger(__name__)


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Make ``create_backend(model, name)`` call ``factory(model, **options)``."""
    _PLUGINS[name] = factory


def _plugin(name: str) -> Callable[..., Backend]:
    """The registered factory for ``name``, loading its entry point on first use."""
    if name not in _PLUGINS:
        for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
            try:
                factory = ep.load()
            except ImportError as exc:
                raise BackendError(f'the {name} backend ({ep.value}) cannot be imported: '
                                   f'{exc}') from None
            _PLUGINS.setdefault(name, factory)
    if name not in _PLUGINS:
        raise BackendError(f'the {name} backend is not installed (install the package that '
                           f'provides it, e.g. pose_lifter_training for torch)')
    return _PLUGINS[name]


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
    if backend != 'auto':
        return _plugin(backend)(model, **options)
    # auto: fail fast on a bad model file before trying accelerators.
    cpu = OnnxBackend(model, device='cpu', threads=options.get('threads', 0))
    for name in ('tensorrt', 'onnxruntime-cuda'):
        try:
            return create_backend(model, name, **options)
        except (BackendError, ImportError, OSError) as exc:
            log.info('backend %s not used: %s', name, exc)
    return cpu
