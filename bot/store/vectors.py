"""The one way Crate stores float vectors in SQLite: little-endian float32 BLOBs.

Every module that writes or reads an embedding or a tag-probability vector goes through
these helpers, so the byte layout is defined in exactly one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Little-endian float32, whatever the host's byte order.
BLOB_DTYPE = np.dtype("<f4")


def to_blob(values: object, dim: int) -> bytes:
    """Encode a 1-d vector of exactly ``dim`` finite numbers as float32 bytes."""
    array = np.asarray(values, dtype=BLOB_DTYPE)
    if array.shape != (dim,):
        raise ValueError(f"expected a vector of shape ({dim},), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("vector contains NaN or infinite values")
    return array.tobytes()


def from_blob(blob: bytes, dim: int) -> np.ndarray:
    """Decode one BLOB written by :func:`to_blob` into a read-only float32 vector."""
    if len(blob) != dim * BLOB_DTYPE.itemsize:
        raise ValueError(f"BLOB holds {len(blob)} bytes, expected {dim * BLOB_DTYPE.itemsize}")
    return np.frombuffer(blob, dtype=BLOB_DTYPE).astype(np.float32, copy=False)


def stack_blobs(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Decode many BLOBs at once into a writable float32 matrix of shape ``(len(blobs), dim)``.

    Copies each BLOB straight into a preallocated matrix: one copy, no intermediate buffer.
    """
    width = dim * BLOB_DTYPE.itemsize
    matrix = np.empty((len(blobs), dim), dtype=BLOB_DTYPE)
    if matrix.size == 0:
        return matrix.astype(np.float32, copy=False)
    target = memoryview(matrix.reshape(-1)).cast("B")  # type: ignore[arg-type]  # ndarray is a buffer
    offset = 0
    for blob in blobs:
        if len(blob) != width:
            raise ValueError(f"BLOB holds {len(blob)} bytes, expected {width}")
        target[offset : offset + width] = blob
        offset += width
    return matrix.astype(np.float32, copy=False)
