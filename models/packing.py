"""Float32 arrays in JSON artifacts: base64 of little-endian bytes, exact and compact."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["pack", "unpack"]


def pack(array: npt.NDArray[np.floating[Any]]) -> dict[str, Any]:
    data = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(data.shape), "f32le": base64.b64encode(data.tobytes()).decode("ascii")}


def unpack(doc: Mapping[str, Any]) -> npt.NDArray[np.float32]:
    raw = base64.b64decode(doc["f32le"], validate=True)
    array: npt.NDArray[np.float32] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return array.reshape(doc["shape"])
