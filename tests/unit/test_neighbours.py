"""The neighbour vote: hand-computed votes, quantisation, artifact round trips, packing."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from models import neighbours
from models.classifier import default_artifact_path
from models.head import Head
from models.neighbours import Neighbours, NeighbourSettings
from models.packing import pack_bits, pack_int8, unpack_bits, unpack_int8


def _unit(*angles: float) -> np.ndarray:
    return np.array([[math.cos(a), math.sin(a)] for a in angles], dtype=np.float32)


# Four examples on the unit circle at 0, 0.1, 0.2 and 3 radians; two types.
MEMORY = _unit(0.0, 0.1, 0.2, 3.0)
LABELS = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=bool)


def _votes(query: np.ndarray, k: int, temperature: float) -> np.ndarray:
    settings = NeighbourSettings(k=k, temperature=temperature)
    return Neighbours.build(MEMORY, LABELS, settings).votes(query)


def test_the_nearest_example_alone_votes_its_labels() -> None:
    assert np.allclose(_votes(_unit(0.19), k=1, temperature=1.0), [[0, 1]], atol=1e-6)
    assert np.allclose(_votes(_unit(2.9), k=1, temperature=1.0), [[0, 0]], atol=1e-6)


def test_votes_are_softmax_weighted_shares_of_the_k_nearest() -> None:
    query = _unit(0.05)
    for temperature in (0.01, 0.1, 10.0):
        memory = Neighbours.build(MEMORY, LABELS, NeighbourSettings(k=3, temperature=temperature))
        restored = memory.vectors.astype(np.float64) * memory.scales[:, None]
        sims = (restored @ query[0])[:3]  # examples 0, 1 and 2 are the three nearest
        w = np.exp(sims / temperature)
        w /= w.sum()
        expected = [w[0] + w[1], w[1] + w[2]]
        assert np.allclose(memory.votes(query), [expected], atol=1e-5), temperature
    # A hot softmax is a plain mean of the k labels; example 3 (far away) never votes.
    assert np.allclose(_votes(query, k=3, temperature=10.0), [[2 / 3, 2 / 3]], atol=1e-3)


def test_votes_do_not_depend_on_how_queries_are_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = Neighbours.build(MEMORY, LABELS, NeighbourSettings(k=2, temperature=0.3))
    queries = np.vstack([_unit(*np.linspace(0.0, 6.0, 10)), np.zeros((1, 2), np.float32)])
    whole = memory.votes(queries)
    monkeypatch.setattr(neighbours, "CHUNK", 3)  # 11 rows: chunks of 3, 3, 3 and 2
    assert np.array_equal(memory.votes(queries), whole)


def test_an_empty_passage_gets_a_neutral_vote() -> None:
    memory = Neighbours.build(MEMORY, LABELS, NeighbourSettings(k=2))
    votes = memory.votes(np.vstack([np.zeros((1, 2), np.float32), _unit(0.0)]))
    assert np.array_equal(votes[0], [0.5, 0.5])
    assert np.array_equal(memory.logits(np.zeros((1, 2), np.float32)), [[0.0, 0.0]])
    assert votes[1, 0] > 0.9  # the other row is voted on as usual


def test_logits_are_the_weighted_logit_of_the_clipped_vote() -> None:
    settings = NeighbourSettings(k=1, temperature=1.0, weight=0.5, floor=0.02)
    memory = Neighbours.build(MEMORY, LABELS, settings)
    got = memory.logits(_unit(0.0))
    bound = 0.5 * math.log(0.98 / 0.02)
    assert np.allclose(got, [[bound, -bound]], atol=1e-5)


def test_quantised_memory_keeps_similarities_to_within_a_hundredth() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    memory = Neighbours.build(x, np.zeros((200, 1), bool), NeighbourSettings())
    restored = memory.vectors.astype(np.float32) * memory.scales[:, None]
    assert memory.vectors.dtype == np.int8
    assert np.abs(restored - x).max() <= memory.scales.max() / 2 + 1e-7
    assert np.abs(restored @ x.T - x @ x.T).max() < 0.01


@pytest.mark.parametrize(
    ("vectors", "labels", "k", "message"),
    [
        (MEMORY, LABELS, 5, "neighbours from 4 examples"),
        (MEMORY, LABELS[:3], 1, "labels do not match"),
    ],
)
def test_an_inconsistent_memory_is_refused(
    vectors: np.ndarray, labels: np.ndarray, k: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Neighbours.build(vectors, labels, NeighbourSettings(k=k))


def test_the_memory_round_trips_through_its_document() -> None:
    memory = Neighbours.build(MEMORY, LABELS, NeighbourSettings(k=2, temperature=0.3))
    loaded = Neighbours.from_doc(json.loads(json.dumps(memory.to_doc())))
    assert loaded.settings == memory.settings
    assert np.array_equal(loaded.vectors, memory.vectors)
    assert np.array_equal(loaded.scales, memory.scales)
    assert np.array_equal(loaded.labels, memory.labels)
    query = _unit(0.3, 1.0)
    assert np.array_equal(loaded.votes(query), memory.votes(query))


def test_the_head_adds_the_vote_to_its_linear_logit() -> None:
    head = Head.load(default_artifact_path())
    assert head.neighbours is not None
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    texts = ["Shells were shipped to Russia.", "A parade was held.", ""]
    linear = replace(head, neighbours=None).logits(x, texts)
    assert np.allclose(head.logits(x, texts), linear + head.neighbours.logits(x), atol=1e-5)


def test_an_artifact_of_the_first_format_still_loads_without_a_memory() -> None:
    doc = json.loads(default_artifact_path().read_text(encoding="ascii"))
    doc["format"] = "tumen.head/1"
    del doc["neighbours"]
    head = Head.from_json(json.dumps(doc))
    assert head.neighbours is None
    assert head.types == Head.load(default_artifact_path()).types


@pytest.mark.parametrize("shape", [(1,), (3, 5), (7, 8), (13, 3)])
def test_bits_and_int8_round_trip(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    bits = rng.random(shape) < 0.3
    assert np.array_equal(unpack_bits(json.loads(json.dumps(pack_bits(bits)))), bits)
    small = rng.integers(-128, 128, shape).astype(np.int8)
    assert np.array_equal(unpack_int8(json.loads(json.dumps(pack_int8(small)))), small)


def test_a_truncated_array_is_refused() -> None:
    doc = pack_int8(np.arange(10, dtype=np.int8).reshape(2, 5))
    doc["shape"] = [3, 5]
    with pytest.raises(ValueError, match="values for shape"):
        unpack_int8(doc)
