"""The classification head, and its on-disk artifact.

Two views of a passage each give one logit per event type, and the head averages them:

* the *semantic* view, a linear model (one-vs-rest logistic regression) on the sentence
  embedding of the encoder, as fine-tuned by the artifact's adapter (:mod:`models.adapter`);
* the *lexical* view, a linear model on TF-IDF weighted word unigrams and bigrams of the passage.
  The pooled embedding blurs the cue words that separate an event from background ("launched" vs
  "is capable of", "defected" vs "fled"); the n-grams keep them, and the average is measurably
  better than either view alone (see the training report).

To that average the head adds the vote of the passage's nearest training examples
(:mod:`models.neighbours`), which knows the look-alikes a linear model cannot keep apart.

Per-type Platt scaling turns the averaged logit plus the vote into a probability, and a per-type
threshold on that probability decides. The artifact is one JSON file, the adapter and the
neighbour memory included: matrices as base64 of their little-endian bytes (float32, exact; the
memory's int8 vectors and bit-packed labels, see :mod:`models.packing`), everything else as plain
JSON with sorted keys and no timestamps, so the same training run always writes the same bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from models.adapter import Adapter
from models.calibration import sigmoid
from models.encoder import DIMENSION
from models.neighbours import Neighbours
from models.packing import pack, unpack
from tumen.errors import TumenError

__all__ = [
    "ARTIFACT_FORMAT",
    "READABLE_FORMATS",
    "SHIPPED_ARTIFACT_BYTES",
    "ArtifactError",
    "Head",
    "Layer",
    "Lexical",
    "forward",
    "ngrams",
]

ARTIFACT_FORMAT = "tumen.head/2"
READABLE_FORMATS = ("tumen.head/1", ARTIFACT_FORMAT)  # /1 had no neighbour memory
SHIPPED_ARTIFACT_BYTES = 5 * 2**20  # the committed default artifact must stay this small

Matrix = npt.NDArray[np.float32]
MetaValue = str | int | float | list[str]

_TOKEN = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]|\d+")


class ArtifactError(TumenError):
    """A head artifact is missing, unreadable or does not fit the profile."""


@dataclass(frozen=True)
class Layer:
    weight: Matrix  # (inputs, outputs)
    bias: Matrix  # (outputs,)


def forward(layers: Sequence[Layer], x: npt.NDArray[np.floating[Any]]) -> Matrix:
    """Logits of a ReLU network; a single layer is a linear model."""
    h = np.asarray(x, dtype=np.float32)
    for i, layer in enumerate(layers):
        h = h @ layer.weight + layer.bias
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def ngrams(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams (bigrams joined by a space)."""
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


@dataclass(frozen=True)
class Lexical:
    """TF-IDF n-gram features and the linear layer on them."""

    vocabulary: tuple[str, ...]
    idf: Matrix  # (vocabulary,)
    layer: Layer
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.vocabulary)})

    def features(self, texts: Sequence[str]) -> torch.Tensor:
        """Rows of log(1 + tf) * idf, L2-normalised, as a sparse (COO) texts x vocabulary tensor.

        Training multiplies by it hundreds of times; dense, it made each fit take about a minute.
        """
        rows = [self._sparse(text) for text in texts]
        row_index = np.repeat(np.arange(len(texts), dtype=np.int64), [len(c) for c, _ in rows])
        cols = np.concatenate([np.zeros(0, np.int64), *(c for c, _ in rows)])
        values = np.concatenate([np.zeros(0, np.float32), *(v for _, v in rows)])
        return torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([row_index, cols])),
            torch.from_numpy(values),
            size=(len(texts), len(self.vocabulary)),
            is_coalesced=True,  # row-major and unique: each row's columns are sorted
            check_invariants=True,
        )

    def logits(self, texts: Sequence[str]) -> Matrix:
        """Sparse evaluation: memory stays linear in the passages, not passages x vocabulary."""
        out = np.tile(self.layer.bias, (len(texts), 1)).astype(np.float32)
        for row, text in enumerate(texts):
            cols, values = self._sparse(text)
            if len(cols):
                out[row] += values @ self.layer.weight[cols]
        return out

    def _sparse(self, text: str) -> tuple[npt.NDArray[np.int64], Matrix]:
        counts: dict[int, int] = {}
        for gram in ngrams(text):
            col = self._index.get(gram)
            if col is not None:
                counts[col] = counts.get(col, 0) + 1
        cols = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        values = np.log1p(np.array([counts[c] for c in cols], dtype=np.float32)) * self.idf[cols]
        norm = float(np.linalg.norm(values)) if len(values) else 0.0
        return cols, (values / max(norm, 1e-9)).astype(np.float32)


@dataclass(frozen=True)
class Head:
    types: tuple[str, ...]
    layers: tuple[Layer, ...]  # on the sentence embedding
    lexical: Lexical | None
    platt: Matrix  # (types, 2): slope and intercept per type
    thresholds: Matrix  # (types,), on calibrated probabilities
    meta: Mapping[str, MetaValue] = field(default_factory=dict)
    adapter: Adapter | None = None  # the encoder's fine-tuning; None: the pretrained encoder
    neighbours: Neighbours | None = None  # the training examples' vote; None: no vote

    def __post_init__(self) -> None:
        memory = self.neighbours
        if memory is not None and (memory.types, memory.dimension) != (len(self.types), DIMENSION):
            raise ArtifactError(
                f"the neighbour memory ({memory.dimension} dimensions, {memory.types} types) "
                f"does not fit the encoder and head ({DIMENSION}, {len(self.types)})"
            )

    def logits(self, embeddings: npt.NDArray[np.floating[Any]], texts: Sequence[str]) -> Matrix:
        """Raw scores: the semantic logit, averaged with the lexical one where there is one, plus
        the neighbours' vote where there is one."""
        z = forward(self.layers, embeddings)
        if self.lexical is not None:
            z = ((z + self.lexical.logits(texts)) / 2).astype(np.float32)
        if self.neighbours is not None:
            z = (z + self.neighbours.logits(embeddings)).astype(np.float32)
        return z

    def probabilities(
        self, embeddings: npt.NDArray[np.floating[Any]], texts: Sequence[str]
    ) -> Matrix:
        """Calibrated probability of each type for each passage."""
        z = self.logits(embeddings, texts).astype(np.float64)
        return sigmoid(z * self.platt[:, 0] + self.platt[:, 1]).astype(np.float32)

    def to_json(self) -> str:
        doc = {
            "format": ARTIFACT_FORMAT,
            "types": list(self.types),
            "layers": [_layer_doc(layer) for layer in self.layers],
            "lexical": None if self.lexical is None else _lexical_doc(self.lexical),
            "platt": [[_num(v) for v in row] for row in self.platt],
            "thresholds": [_num(v) for v in self.thresholds],
            "meta": dict(self.meta),
        }
        if self.adapter is not None:
            doc["adapter"] = self.adapter.to_doc()
        if self.neighbours is not None:
            doc["neighbours"] = self.neighbours.to_doc()
        return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=True) + "\n"

    def save(self, path: Path) -> str:
        """Write the artifact; returns its SHA-256."""
        data = self.to_json().encode("ascii")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> Head:
        try:
            doc = json.loads(text)
            if doc.get("format") not in READABLE_FORMATS:
                raise ArtifactError(f"unknown artifact format {doc.get('format')!r}")
            lexical, adapter, neighbours = (
                doc.get("lexical"),
                doc.get("adapter"),
                doc.get("neighbours"),
            )
            return cls(
                types=tuple(doc["types"]),
                layers=tuple(_layer(x) for x in doc["layers"]),
                lexical=None if lexical is None else _lexical(lexical),
                platt=np.asarray(doc["platt"], dtype=np.float32).reshape(-1, 2),
                thresholds=np.asarray(doc["thresholds"], dtype=np.float32),
                meta=doc.get("meta", {}),
                adapter=None if adapter is None else Adapter.from_doc(adapter),
                neighbours=None if neighbours is None else Neighbours.from_doc(neighbours),
            )
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            OverflowError,
            RecursionError,
        ) as exc:
            raise ArtifactError(f"malformed head artifact: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> Head:
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"cannot read head artifact {path}: {exc}") from exc
        return cls.from_json(text)


def _num(value: float | np.floating[Any]) -> float:
    """A float32 value as its shortest decimal, so JSON stays short and round-trips exactly."""
    return float(str(np.float32(value)))


def _layer_doc(layer: Layer) -> dict[str, Any]:
    return {"weight": pack(layer.weight), "bias": pack(layer.bias)}


def _layer(doc: Mapping[str, Any]) -> Layer:
    return Layer(unpack(doc["weight"]), unpack(doc["bias"]))


def _lexical_doc(lexical: Lexical) -> dict[str, Any]:
    return {
        "vocabulary": list(lexical.vocabulary),
        "idf": pack(lexical.idf),
        "layer": _layer_doc(lexical.layer),
    }


def _lexical(doc: Mapping[str, Any]) -> Lexical:
    vocabulary = tuple(str(w) for w in doc["vocabulary"])
    idf = unpack(doc["idf"])
    if idf.shape != (len(vocabulary),):
        raise ValueError("lexical idf does not match the vocabulary")
    return Lexical(vocabulary=vocabulary, idf=idf, layer=_layer(doc["layer"]))
