"""Evaluate the event model on labelled JSONL (``{"text", "labels"}`` per line).

Each line is one document; its predicted labels are the types of the events the model finds in
it. Reported: per-type precision, recall, F1 and support (gold positives), micro and macro F1, and
for the document-level type probabilities (the best passage's) their expected calibration error
and, per type, their average precision: how well they rank, whatever the thresholds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.calibration import average_precision, expected_calibration_error
from models.classifier import Document, EventModel
from models.training import TrainingDataError

__all__ = ["LabelledDocument", "evaluate", "read_labelled", "score_predictions"]

BATCH = 64

LabelledDocument = tuple[str, frozenset[str]]


def read_labelled(path: Path, types: Iterable[str]) -> list[LabelledDocument]:
    """``(text, labels)`` per non-blank line; a malformed line or unknown label is an error."""
    known = set(types)
    out: list[LabelledDocument] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            text, labels = str(obj["text"]), frozenset(map(str, obj["labels"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise TrainingDataError(f"{path.name}:{number}: not a {{text, labels}} object") from exc
        if labels - known:
            raise TrainingDataError(
                f"{path.name}:{number}: unknown labels {sorted(labels - known)}"
            )
        out.append((text, labels))
    return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def score_predictions(
    predicted: Sequence[frozenset[str]], gold: Sequence[frozenset[str]], types: Sequence[str]
) -> dict[str, Any]:
    """Per-type and averaged scores of multi-label predictions (macro: mean of per-type F1)."""
    per_type: dict[str, dict[str, float | int]] = {}
    totals = [0, 0, 0]  # tp, fp, fn
    for name in types:
        tp = sum(1 for p, g in zip(predicted, gold, strict=True) if name in p and name in g)
        fp = sum(1 for p, g in zip(predicted, gold, strict=True) if name in p and name not in g)
        fn = sum(1 for p, g in zip(predicted, gold, strict=True) if name not in p and name in g)
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
        per_type[name] = {
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "support": tp + fn,
        }
    tp, fp, fn = totals
    return {
        "micro_precision": _ratio(tp, tp + fp),
        "micro_recall": _ratio(tp, tp + fn),
        "micro_f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "macro_f1": float(np.mean([s["f1"] for s in per_type.values()])) if types else 0.0,
        "per_type": per_type,
    }


def evaluate(model: EventModel, path: Path) -> dict[str, Any]:
    """Scores of ``model`` on the labelled file ``path`` (see the module docstring)."""
    rows = read_labelled(path, model.types)
    predicted: list[frozenset[str]] = []
    probabilities: list[np.typing.NDArray[np.float32]] = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        docs = [Document(id=str(start + i), text=text) for i, (text, _) in enumerate(batch)]
        for analysis in model.analyse(docs):
            predicted.append(frozenset(d.type for d in analysis.detections))
            probabilities.append(analysis.type_probabilities(len(model.types)))
    gold = [labels for _, labels in rows]
    result = score_predictions(predicted, gold, model.types)
    truth = np.array([[t in g for t in model.types] for g in gold], dtype=bool)
    probs = np.array(probabilities)
    result["ece"] = expected_calibration_error(probs, truth) if rows else 0.0
    for j, name in enumerate(model.types):
        result["per_type"][name]["average_precision"] = (
            average_precision(probs[:, j], truth[:, j]) if rows else 0.0
        )
    aps = [s["average_precision"] for s in result["per_type"].values()]
    result["mean_average_precision"] = float(np.mean(aps)) if aps else 0.0
    result["documents"] = len(rows)
    result["model_version"] = model.model_version
    return result
