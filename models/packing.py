"""Arrays in JSON artifacts: base64 of their little-endian bytes, exact and compact.

Float32 matrices are stored as they are; int8 ones (quantised embeddings) and boolean ones
(multi-hot labels, eight to a byte) in their own smaller encodings. Each names its encoding in
its key, so a reader never guesses the dtype.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["pack", "pack_bits", "pack_int8", "unpack", "unpack_bits", "unpack_int8"]


def _encode(data: npt.NDArray[Any]) -> str:
    return base64.b64encode(data.tobytes()).decode("ascii")


def _decode(doc: Mapping[str, Any], key: str, dtype: str, count: int) -> npt.NDArray[Any]:
    raw = base64.b64decode(doc[key], validate=True)
    array = np.frombuffer(raw, dtype=dtype)
    if array.size != count:
        raise ValueError(f"{key}: {array.size} values for shape {doc['shape']}")
    return array


def _shape(doc: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(n) for n in doc["shape"])


def pack(array: npt.NDArray[np.floating[Any]]) -> dict[str, Any]:
    data = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(data.shape), "f32le": _encode(data)}


def unpack(doc: Mapping[str, Any]) -> npt.NDArray[np.float32]:
    shape = _shape(doc)
    array = _decode(doc, "f32le", "<f4", int(np.prod(shape)))
    out: npt.NDArray[np.float32] = array.astype(np.float32).reshape(shape)
    return out


def pack_int8(array: npt.NDArray[np.int8]) -> dict[str, Any]:
    data = np.ascontiguousarray(array, dtype=np.int8)
    return {"shape": list(data.shape), "i8": _encode(data)}


def unpack_int8(doc: Mapping[str, Any]) -> npt.NDArray[np.int8]:
    shape = _shape(doc)
    out: npt.NDArray[np.int8] = _decode(doc, "i8", "i1", int(np.prod(shape))).reshape(shape).copy()
    return out


def pack_bits(array: npt.NDArray[np.bool_]) -> dict[str, Any]:
    data = np.packbits(np.ascontiguousarray(array, dtype=bool).reshape(-1))
    return {"shape": list(array.shape), "bits": _encode(data)}


def unpack_bits(doc: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    shape = _shape(doc)
    count = int(np.prod(shape))
    packed = _decode(doc, "bits", "u1", (count + 7) // 8)
    out: npt.NDArray[np.bool_] = np.unpackbits(packed)[:count].astype(bool).reshape(shape)
    return out
