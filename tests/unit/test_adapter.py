"""The encoder adapter: merge arithmetic, artifact round trip, reproducible fine-tuning."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

from models.adapter import Adapter, AdapterError, FinetuneSettings, _attach, finetune
from models.classifier import default_artifact_path
from models.encoder import Encoder, load_pretrained, model_dir
from models.head import Head
from models.training import (
    CALIBRATION_FILES,
    FOLDS,
    Example,
    calibration_split,
    load_examples,
)
from tumen.profile import load_profile

DATA = Path(__file__).resolve().parents[2] / "models" / "data"
TYPES = tuple(load_profile().type_names)
SENTENCES = [
    "Freight trains crossed the Tumen river bridge four times a day last month.",
    "The ministry said several hundred workers would leave for Vladivostok.",
    "Shells were loaded onto a cargo ship at Rajin.",
]


@functools.cache
def _layer_shapes() -> tuple[tuple[str, int, int], ...]:
    """(module path, in, out) of every layer fine-tuning adapts; the encoder is loaded once."""
    _, model = load_pretrained(model_dir())
    wrapped = _attach(model, FinetuneSettings(rank=4, alpha=8.0), torch.Generator())
    return tuple((n, w.base.in_features, w.base.out_features) for n, w in wrapped.items())


def _random_adapter(seed: int) -> Adapter:
    rng = np.random.default_rng(seed)
    factors = {
        name: (
            (rng.uniform(-1, 1, (4, fan_in)) / np.sqrt(fan_in)).astype(np.float32),
            (rng.standard_normal((fan_out, 4)) * 0.02).astype(np.float32),
        )
        for name, fan_in, fan_out in _layer_shapes()
    }
    return Adapter(rank=4, alpha=8.0, factors=factors)


def test_merged_weights_compute_what_the_low_rank_layers_compute() -> None:
    adapter = _random_adapter(3)
    tokenizer, wrapped_model = load_pretrained(model_dir())
    layers = _attach(wrapped_model, FinetuneSettings(rank=4, alpha=8.0), torch.Generator())
    with torch.no_grad():
        for name, (a, b) in adapter.factors.items():
            layers[name].a.copy_(torch.from_numpy(a))
            layers[name].b.copy_(torch.from_numpy(b))
    wrapped_model.eval()
    _, merged_model = load_pretrained(model_dir())
    adapter.merge_into(merged_model)
    merged_model.eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = wrapped_model(**batch).last_hidden_state
        got = merged_model(**batch).last_hidden_state
    assert torch.allclose(got, expected, atol=1e-4)
    plain = Encoder(num_threads=1).encode(SENTENCES)
    adapted = Encoder(num_threads=1, adapter=adapter).encode(SENTENCES)
    assert not np.allclose(plain, adapted, atol=1e-3)  # the adapter does change the embedding


def test_a_zero_update_leaves_the_encoder_as_it_was() -> None:
    adapter = _random_adapter(4)
    zero = Adapter(
        rank=4,
        alpha=8.0,
        factors={n: (a, np.zeros_like(b)) for n, (a, b) in adapter.factors.items()},
    )
    plain = Encoder(num_threads=1).encode(SENTENCES)
    assert np.array_equal(Encoder(num_threads=1, adapter=zero).encode(SENTENCES), plain)
    assert Encoder(num_threads=1, adapter=zero).fingerprint != Encoder(num_threads=1).fingerprint


def test_adapter_round_trips_through_the_artifact(tmp_path: Path) -> None:
    adapter = _random_adapter(5)
    head = Head.load(default_artifact_path())
    with_adapter = Head(
        head.types, head.layers, head.lexical, head.platt, head.thresholds, head.meta, adapter
    )
    with_adapter.save(tmp_path / "head.json")
    loaded = Head.load(tmp_path / "head.json")
    assert loaded.adapter is not None
    assert loaded.adapter.digest() == adapter.digest()
    assert loaded.to_json() == with_adapter.to_json()


def test_an_adapter_for_another_encoder_is_refused() -> None:
    adapter = _random_adapter(6)
    name, (a, b) = next(iter(adapter.factors.items()))
    _, model = load_pretrained(model_dir())
    with pytest.raises(AdapterError, match="do not fit"):
        Adapter(4, 8.0, {name: (a[:, :10], b)}).merge_into(model)
    with pytest.raises(AdapterError, match="no layer"):
        Adapter(4, 8.0, {"encoder.layer.99.output.dense": (a, b)}).merge_into(model)


def test_fine_tuning_is_reproducible_and_depends_on_the_seed() -> None:
    examples = load_examples(DATA, TYPES)[::97]
    texts = [e.text for e in examples]
    y = np.array([[t in e.labels for t in TYPES] for e in examples], dtype=bool)
    settings = FinetuneSettings(epochs=1, batch_size=8, checkpoint_step=2)
    first = finetune(texts, y, settings=settings, seed=1, stop_after=4)
    second = finetune(texts, y, settings=settings, seed=1, stop_after=4)
    other = finetune(texts, y, settings=settings, seed=2, stop_after=4)
    assert first.steps == 4
    assert first.adapter.digest() == second.adapter.digest()
    assert first.checkpoint_sha256 == second.checkpoint_sha256 != ""
    assert other.adapter.digest() != first.adapter.digest()
    assert any(np.any(b != 0) for _, b in first.adapter.factors.values())  # it did learn


def test_calibration_holds_out_the_gap_files_or_else_a_fold() -> None:
    examples = [
        Example("a", frozenset(), source="train_main.jsonl"),
        Example("b", frozenset(), source="train_gaps_x.jsonl"),
        Example("c", frozenset(), source="train_main.jsonl"),
        Example("d", frozenset(), source="train_gaps_y.jsonl"),
    ]
    keep, held, how = calibration_split(examples, seed=0)
    assert held.tolist() == [1, 3]
    assert keep.tolist() == [True, False, True, False]
    assert CALIBRATION_FILES in how
    plain = [Example(e.text, e.labels, source="train_main.jsonl") for e in examples] * FOLDS
    keep, held, how = calibration_split(plain, seed=0)
    assert len(held) == 4 and not keep[held].any() and keep.sum() == len(plain) - 4
    assert "fold" in how
