"""Metrics on a hand-computed example, ECE, and the classify/evaluate commands end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from models.calibration import (
    average_precision,
    best_threshold,
    expected_calibration_error,
    fit_platt,
    kfold_indices,
)
from models.classifier import Document, EventModel
from models.commands import classify_jsonl, evaluate_command
from models.evaluation import score_predictions
from models.training import TrainingDataError


def test_scores_match_a_hand_computed_example() -> None:
    types = ["a", "b", "c"]
    gold = [frozenset({"a"}), frozenset({"a", "b"}), frozenset(), frozenset({"c"})]
    pred = [frozenset({"a"}), frozenset({"b", "c"}), frozenset({"a"}), frozenset()]
    # a: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
    # b: tp 1, fp 0, fn 0 -> 1, 1, 1
    # c: tp 0, fp 1, fn 1 -> 0, 0, 0
    # micro: tp 2, fp 2, fn 2 -> F1 4/8
    result = score_predictions(pred, gold, types)
    assert result["per_type"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert result["per_type"]["b"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert result["per_type"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert result["micro_f1"] == pytest.approx(0.5)
    assert result["micro_precision"] == pytest.approx(0.5)
    assert result["macro_f1"] == pytest.approx(0.5)


def test_ece_of_a_hand_computed_example() -> None:
    # bin [0.8, 0.9): confidence 0.8, accuracy 1/2 -> gap 0.3, weight 2/4
    # bin [0.2, 0.3): confidence 0.2, accuracy 0 -> gap 0.2, weight 2/4
    probs = np.array([0.8, 0.8, 0.2, 0.2])
    labels = np.array([1, 0, 0, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.25)
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1, 0])) == 0.0


def test_average_precision_of_hand_computed_examples() -> None:
    # positives at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(5 / 6)
    # a tie is one rank: both rows are taken together, precision 1/2
    assert average_precision([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert average_precision([0.5, 0.5, 0.1], [0, 1, 1]) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert average_precision([0.2, 0.9], [1, 0]) == pytest.approx(0.5)
    assert average_precision([0.2, 0.9], [0, 0]) == 0.0


def test_threshold_is_half_the_best_f1_and_platt_is_monotone() -> None:
    probs = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.1])
    labels = np.array([1, 1, 0, 1, 0, 0])
    # the best cut, between 0.4 and 0.3, gives P 3/4, R 1: F1 6/7, so the threshold is 3/7
    assert best_threshold(probs, labels) == pytest.approx(3 / 7)
    # tied scores are one cut: taking only one of the two 0.8s is not a choice
    assert best_threshold([0.8, 0.8, 0.2], [1, 0, 0]) == pytest.approx(1 / 3)  # F1 2/3 at 0.8
    assert best_threshold([0.9, 0.2], [0, 0]) == 0.5  # no positives: no evidence either way
    assert best_threshold([0.01] * 50 + [0.9], [1] + [0] * 50, floor=0.05) == 0.05
    a, _b = fit_platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
    assert a > 0


def test_folds_partition_the_indices_deterministically() -> None:
    folds = kfold_indices(23, 5, seed=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(23))
    assert all(np.array_equal(x, y) for x, y in zip(folds, kfold_indices(23, 5, 3), strict=True))


@pytest.fixture(scope="module")
def model() -> EventModel:
    return EventModel.load()


def test_classify_jsonl_reports_malformed_lines_and_keeps_order(model: EventModel) -> None:
    lines = [
        json.dumps({"id": "a", "text": "Pyongyang test-fired two ballistic missiles on Sunday."}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "", "text": "x"}),
        json.dumps({"id": "b", "text": 5}),
        json.dumps({"id": 7, "text": "", "title": "Weather is mild"}),
        "",
    ]
    out = io.StringIO()
    failed = classify_jsonl(model, io.StringIO("\n".join(lines) + "\n"), out)
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert failed == 5
    assert len(records) == len(lines)
    assert records[0]["id"] == "a" and records[0]["model_version"] == model.model_version
    assert [e["type"] for e in records[0]["events"]] == ["weapons_test"]
    assert [r.get("line") for r in records[1:5]] == [2, 3, 4, 5]
    assert records[5] == {"id": "7", "events": [], "model_version": model.model_version}
    assert records[6]["line"] == 7 and "not JSON" in records[6]["error"]


def test_evaluate_command_prints_table_and_writes_json(model: EventModel, tmp_path: Path) -> None:
    data = tmp_path / "tiny.jsonl"
    rows = [
        {"text": "North Korea launched an intercontinental ballistic missile on Friday.",
         "labels": ["weapons_test"]},
        {"text": "The weather in Pyongyang was sunny and warm this week.", "labels": []},
    ]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = io.StringIO()
    result = evaluate_command(model, data, tmp_path / "scores.json", out)
    written = json.loads((tmp_path / "scores.json").read_text())
    assert written["micro_f1"] == result["micro_f1"] == 1.0
    assert set(written["per_type"]) == set(model.types)
    assert written["per_type"]["weapons_test"]["average_precision"] == 1.0
    assert "weapons_test" in out.getvalue() and "micro" in out.getvalue()


def test_evaluate_rejects_unknown_labels(model: EventModel, tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"text": "x", "labels": ["alien_landing"]}) + "\n")
    with pytest.raises(TrainingDataError, match=r"bad\.jsonl:1"):
        evaluate_command(model, data, None, io.StringIO())


class _Exploding:
    """Stands in for a model whose classification fails on one document."""

    model_version = "stub@0"

    def classify(self, docs: list[Document]) -> list[list[Any]]:
        if any(d.id == "boom" for d in docs):
            raise RuntimeError("kaboom")
        return [[] for _ in docs]


def test_a_failing_document_is_reported_on_its_line_and_the_rest_go_on() -> None:
    lines = [json.dumps({"id": i, "text": "t"}) for i in ("a", "boom", "c")]
    out = io.StringIO()
    failed = classify_jsonl(cast(EventModel, _Exploding()), io.StringIO("\n".join(lines)), out)
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert failed == 1
    assert records[0] == {"id": "a", "events": [], "model_version": "stub@0"}
    assert records[1]["line"] == 2 and "kaboom" in records[1]["error"]
    assert records[2]["id"] == "c"
