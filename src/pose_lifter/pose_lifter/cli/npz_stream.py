"""``.npz`` members read and written a block of rows at a time (bounded memory), no pickles.

An ``.npz`` is a zip of ``.npy`` members; ``np.load`` reads a whole member at once. Here a member
is opened as a stream (stored or deflated alike), its ``.npy`` header parsed, and its rows read
``rows`` at a time; output members are written from arrays on disk (``np.lib.format.open_memmap``)
in blocks, so neither side ever holds more than a block in memory.
"""
from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

BLOCK_BYTES = 16 << 20


class NpzError(ValueError):
    """A member that is not a plain array, pickled, Fortran-ordered or truncated."""


@dataclass
class Member:
    """An ``.npy`` member of an ``.npz``: its shape and dtype (from the header alone)."""

    zf: zipfile.ZipFile
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool = False

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def _open(self):
        if self.dtype.hasobject:
            raise NpzError(f'member {self.name!r} holds Python objects (a pickle); not read')
        if self.fortran and len(self.shape) > 1:
            raise NpzError(f'member {self.name!r} is in Fortran order; save it C-ordered')
        f = self.zf.open(self.name + '.npy')
        _read_header(f, self.name)
        return f

    def read_all(self) -> np.ndarray:
        """The whole member (for small ones: K, joint_format)."""
        with self._open() as f:
            data = _read_exact(f, int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize,
                               self.name)
        return np.frombuffer(data, self.dtype).reshape(self.shape).copy()

    def blocks(self, rows: int) -> Iterator[np.ndarray]:
        """Consecutive blocks of at most ``rows`` rows, in order."""
        n = self.shape[0]
        with self._open() as f:
            for start in range(0, n, rows):
                count = min(rows, n - start)
                data = _read_exact(f, count * self.row_bytes, self.name)
                yield np.frombuffer(data, self.dtype).reshape((count,) + self.shape[1:])


def _read_header(f, key: str) -> tuple:
    """(shape, fortran_order, dtype) of the ``.npy`` stream ``f`` (positioned after it)."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)
    except ValueError as exc:
        raise NpzError(f'member {key!r} is not a NumPy array ({exc})') from None
    raise NpzError(f'member {key!r}: .npy format version {version} is not supported')


def _read_exact(f, size: int, name: str) -> bytes:
    parts, left = [], size
    while left > 0:
        chunk = f.read(min(left, BLOCK_BYTES))
        if not chunk:
            raise NpzError(f'member {name!r} is truncated')
        parts.append(chunk)
        left -= len(chunk)
    return b''.join(parts)


def members(zf: zipfile.ZipFile) -> dict[str, Member]:
    """Every ``.npy`` member by key, from the headers only (nothing else is read; a pickled
    or Fortran-ordered member raises NpzError only when it is read)."""
    out = {}
    for info in zf.infolist():
        if not info.filename.endswith('.npy'):
            continue
        key = info.filename[:-4]
        with zf.open(info) as f:
            shape, fortran, dtype = _read_header(f, key)
        out[key] = Member(zf, key, tuple(shape), dtype, bool(fortran))
    return out


def write_member(zf: zipfile.ZipFile, key: str, arr: np.ndarray, rows: int,
                 dtype: np.dtype | None = None) -> None:
    """Write ``arr`` (e.g. a memmap) as ``key.npy`` in blocks of ``rows`` rows, cast to
    ``dtype`` block by block; ``np.load`` reads the result like any ``np.savez`` member."""
    dtype = np.dtype(dtype or arr.dtype)
    header = {'descr': np.lib.format.dtype_to_descr(dtype), 'fortran_order': False,
              'shape': tuple(arr.shape)}
    with zf.open(key + '.npy', 'w', force_zip64=True) as f:
        np.lib.format.write_array_header_2_0(f, header)
        for start in range(0, len(arr), rows):
            f.write(np.ascontiguousarray(arr[start:start + rows], dtype=dtype).tobytes())
