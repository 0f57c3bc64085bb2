"""The head artifact: exact save/load round trip, and training reproducible to the byte."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models import commands, neighbours
from models.adapter import Adapter, FinetuneSettings
from models.classifier import EventModel, default_artifact_path
from models.head import SHIPPED_ARTIFACT_BYTES, ArtifactError, Head, Layer, Lexical
from models.neighbour_grid import grid_scores
from models.neighbours import Neighbours, NeighbourSettings
from models.packing import pack, pack_bits, pack_int8
from models.training import SETTINGS, data_hash, load_examples, train
from tumen.cli import main
from tumen.profile import load_profile

DATA = Path(__file__).resolve().parents[2] / "models" / "data"
TYPES = tuple(load_profile().type_names)


def _head(seed: int = 1) -> Head:
    rng = np.random.default_rng(seed)
    n = len(TYPES)
    lexical = Lexical(
        vocabulary=("missile", "shells", "shells to"),
        idf=rng.random(3, dtype=np.float32),
        layer=Layer(rng.standard_normal((3, n), dtype=np.float32), np.zeros(n, np.float32)),
    )
    return Head(
        types=TYPES,
        layers=(Layer(rng.standard_normal((384, n), dtype=np.float32), rng.random(n, np.float32)),),
        lexical=lexical,
        platt=rng.standard_normal((n, 2), dtype=np.float32),
        thresholds=rng.random(n, dtype=np.float32),
        meta={"seed": 3, "note": "round trip"},
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    head = _head()
    digest = head.save(tmp_path / "head.json")
    loaded = Head.load(tmp_path / "head.json")
    assert digest == hashlib.sha256((tmp_path / "head.json").read_bytes()).hexdigest()
    assert loaded.to_json() == head.to_json()
    x = np.random.default_rng(2).standard_normal((4, 384)).astype(np.float32)
    texts = ["shells to Russia", "a missile", "", "nothing known"]
    assert np.array_equal(loaded.probabilities(x, texts), head.probabilities(x, texts))


def test_lexical_sparse_logits_equal_dense_features() -> None:
    lexical = _head().lexical
    assert lexical is not None
    texts = ["Shells to Russia, shells to Syria.", "No known words", "missile"]
    dense = lexical.features(texts).to_dense().numpy() @ lexical.layer.weight + lexical.layer.bias
    assert np.allclose(lexical.logits(texts), dense, atol=1e-6)


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", json.dumps({"format": "other/1"}), json.dumps({"format": "tumen.head/1"})],
)
def test_malformed_artifacts_raise_artifact_error(text: str) -> None:
    with pytest.raises(ArtifactError):
        Head.from_json(text)


def _with_memory() -> dict[str, Any]:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((10, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    memory = Neighbours.build(x, rng.random((10, len(TYPES))) < 0.5, NeighbourSettings(k=3))
    doc: dict[str, Any] = json.loads(replace(_head(), neighbours=memory).to_json())
    return doc


def test_a_head_with_a_neighbour_memory_round_trips() -> None:
    text = json.dumps(_with_memory())
    head = Head.from_json(text)
    assert head.neighbours is not None and head.neighbours.settings.k == 3
    assert head.to_json() == Head.from_json(head.to_json()).to_json()


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def spoil(memory: dict[str, Any]) -> None:
        target = memory["settings"] if key in NeighbourSettings().as_doc() else memory
        target[key] = value

    return spoil


@pytest.mark.parametrize(
    "spoil",
    [
        _set("temperature", 0.0),
        _set("temperature", 1e-40),  # the softmax would overflow to NaN
        _set("weight", 1e300),  # inf in float32
        _set("weight", -1.0),
        _set("floor", 0.6),
        _set("floor", 1e-300),  # 1 - floor rounds to 1: infinite logits
        _set("k", 0),
        _set("k", 1e400),  # JSON Infinity
        _set("k", "3"),
        _set("k", True),
        _set("k", 2.9),
        _set("k", 11),  # more neighbours than examples
        _set("scales", pack(np.full(10, np.nan, np.float32))),
        _set("scales", pack(np.full(10, 1e38, np.float32))),  # finite, but the memory overflows
        _set("scales", pack(np.full(10, 1.0, np.float32))),  # rows far longer than unit length
        _set("vectors", pack_int8(np.zeros((10, 100), np.int8))),  # not the encoder's width
        _set("labels", pack_bits(np.zeros((10, 3), bool))),  # not the profile's types
        _set("labels", {"shape": [10, 8], "bits": "AAAA"}),  # too few bytes for the shape
    ],
)
def test_a_malformed_neighbour_memory_raises_artifact_error(
    spoil: Callable[[dict[str, Any]], None],
) -> None:
    doc = _with_memory()
    spoil(doc["neighbours"])
    with pytest.raises(ArtifactError):
        Head.from_json(json.dumps(doc))


def _subset(tmp_path: Path) -> Path:
    """Every 12th line of each committed data file: small, but every file represented."""
    out = tmp_path / "data"
    out.mkdir()
    for path in sorted(DATA.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        (out / path.name).write_text("\n".join(lines[::12]) + "\n", encoding="utf-8")
    return out


def test_training_twice_writes_identical_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both stages, fine-tuning (one epoch here) and the head, on a subset of the data; the first
    run and the head-only refit go through the command line's --finetune and --reuse-adapter."""
    data = _subset(tmp_path)
    short = FinetuneSettings(epochs=1)
    monkeypatch.setattr(commands, "FINETUNE", short)
    argv = ["train", "--data", str(data), "--seed", "5", "--output"]
    # An artifact over the shipped limit still works, but the command says it is too big to ship.
    monkeypatch.setattr(commands, "SHIPPED_ARTIFACT_BYTES", 100_000)
    assert main([*argv, str(tmp_path / "a.json"), "--finetune"]) == 0
    assert "over the 0.1 MiB that may be shipped" in capsys.readouterr().out
    monkeypatch.setattr(commands, "SHIPPED_ARTIFACT_BYTES", 100 * 2**20)
    second = train(data, tmp_path / "b.json", seed=5, progress=False, finetuning=short)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert second.finetune_seconds is not None
    head = Head.load(tmp_path / "a.json")
    assert head.types == TYPES
    assert head.adapter is not None
    assert head.meta["adapter_sha256"] == head.adapter.digest()
    assert head.meta["seed"] == 5
    assert head.meta["training_data_sha256"] == second.data_sha256
    assert "train_gaps_" in second.calibrated_on
    # Refitting the head on the adapter it was trained with gives the same artifact.
    assert main([*argv, str(tmp_path / "c.json"), "--reuse-adapter", str(tmp_path / "a.json")]) == 0
    assert "warning" not in capsys.readouterr().out
    assert (tmp_path / "c.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    # A model loaded from it runs the adapted encoder, and says so in its version.
    tuned = EventModel.load(artifact_path=tmp_path / "a.json")
    shipped = EventModel.load(artifact_path=default_artifact_path())
    assert tuned.encoder.adapter is not None
    assert tuned.encoder.adapter.digest() == head.adapter.digest()
    encoder_part = tuned.model_version.split("+")[0]
    assert encoder_part != shipped.model_version.split("+")[0]
    text = ["Artillery shells were loaded onto a ship at Rajin bound for Vladivostok."]
    assert not np.array_equal(tuned.encoder.encode(text), shipped.encoder.encode(text))


def _tiny_adapter() -> Adapter:
    return Adapter(rank=1, alpha=1.0, factors={"x": (np.ones((1, 2), np.float32),) * 2})


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (_head(), "no encoder adapter"),
        (replace(_head(), adapter=_tiny_adapter()), "no record"),
        (
            replace(_head(), adapter=_tiny_adapter(), types=TYPES[::-1], meta={"calibration": ""}),
            "other types",
        ),
        (
            replace(_head(), adapter=_tiny_adapter(), meta={"calibration": "", "settings": "{}"}),
            "other head settings",
        ),
        (
            replace(
                _head(),
                adapter=_tiny_adapter(),
                meta={
                    "calibration": "",
                    "settings": json.dumps(SETTINGS, sort_keys=True),
                    "training_data_sha256": "0" * 64,
                },
            ),
            "other data",
        ),
    ],
)
def test_an_artifact_unfit_for_reuse_is_refused(tmp_path: Path, head: Head, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        train(_subset(tmp_path), tmp_path / "x.json", progress=False, reuse=head)


def test_the_settings_grid_scores_what_training_calibrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grid's out-of-fold micro-F1 for the shipped settings is the one `tumen train` reports."""
    data = _subset(tmp_path)
    # The subset's folds (about 77 passages) are smaller than a vote chunk: shrink the chunk so
    # that both sides vote across chunk boundaries, as they do on the full data.
    monkeypatch.setattr(neighbours, "CHUNK", 32)
    shipped = NeighbourSettings(**SETTINGS["neighbours"])
    grid = {"k": (shipped.k,), "temperature": (shipped.temperature, 1.0), "weight": (0.0, 0.5)}
    by_settings = {s: m for m, s in grid_scores(data, seed=5, grid=grid)}
    report = train(data, tmp_path / "h.json", seed=5, progress=False)
    assert round(by_settings[shipped], 4) == report.calibration_micro_f1


def test_committed_artifact_is_small_and_was_trained_on_the_committed_data() -> None:
    path = default_artifact_path()
    assert path.stat().st_size <= SHIPPED_ARTIFACT_BYTES
    head = Head.load(path)
    assert head.types == TYPES
    current = data_hash(load_examples(DATA, TYPES))
    assert head.meta["training_data_sha256"] == current, "data changed: run `tumen train`"


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the default 300 s is too tight for a loaded 2-core machine
def test_tumen_train_reproduces_the_committed_artifact(tmp_path: Path) -> None:
    """`tumen train` on the committed data and seed writes the committed artifact, byte for byte,
    so a model loaded from it has the shipped model_version (about 2 minutes on 2 cores)."""
    out = tmp_path / "head.json"
    done = subprocess.run(
        [sys.executable, "-m", "tumen.cli", "train", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_bytes() == default_artifact_path().read_bytes()
    shipped = EventModel.load(artifact_path=default_artifact_path())
    assert EventModel.load(artifact_path=out).model_version == shipped.model_version
