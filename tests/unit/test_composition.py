"""Passage embeddings composed from sentence embeddings: each sentence encoded once, windows
pooled from their sentences, single sentences exactly as the encoder embeds them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from models.composition import Matrix, example_embeddings, passage_embeddings, plan
from models.encoder import Encoder, normalize
from models.passages import sentence_spans, split_passages

TEXT = (
    "Two freight trains crossed the bridge at Tumangang on Monday. "
    "Each carried about forty wagons of coal. "
    "Customs officers in Khasan said the traffic would double by spring."
)


S1, S2, S3 = sentence_spans(TEXT)


class CountingEncoder(Encoder):
    """The real encoder, recording how many texts each call asked it to run."""

    calls: list[list[str]]

    def token_sums(self, texts: Sequence[str], *, progress: bool = False) -> Matrix:
        self.calls.append(list(texts))
        return super().token_sums(texts, progress=progress)


@pytest.fixture(scope="module")
def encoder() -> CountingEncoder:
    enc = CountingEncoder(num_threads=1)
    enc.calls = []
    return enc


def test_plan_encodes_sentences_and_title_once_and_builds_windows_from_them() -> None:
    passages = split_passages(TEXT, "Coal trains on the rise")
    units, parts = plan(passages)
    assert [u.in_title for u in units].count(True) == 1
    assert [u.text for u in units if not u.in_title] == [TEXT[s:e] for s, e in (S1, S2, S3)]
    for p, indices in zip(passages, parts, strict=True):
        pieces = [units[i] for i in indices]
        if p.in_title:
            assert pieces == [p]
        else:  # the units of a passage tile it, in order
            assert pieces[0].start == p.start and pieces[-1].end == p.end


def test_windows_pool_their_sentences_and_sentences_match_the_encoder(
    encoder: CountingEncoder,
) -> None:
    passages = split_passages(TEXT)
    encoder.calls.clear()
    emb = passage_embeddings(encoder, [passages])
    assert len(encoder.calls) == 1 and len(encoder.calls[0]) == 3  # three sentences, once each
    sums = encoder.token_sums([TEXT[slice(*S1)], TEXT[slice(*S2)]])
    window = next(i for i, p in enumerate(passages) if (p.start, p.end) == (S1[0], S2[1]))
    np.testing.assert_allclose(
        emb[window], normalize(sums.sum(axis=0, keepdims=True))[0], atol=1e-6
    )
    single = next(i for i, p in enumerate(passages) if (p.start, p.end) == S1)
    np.testing.assert_allclose(emb[single], encoder.encode([TEXT[slice(*S1)]])[0], atol=1e-6)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # A window is close to, but not the same as, encoding its text in one piece.
    whole = encoder.encode([TEXT[S1[0] : S2[1]]])[0]
    assert 0.85 < float(emb[window] @ whole) < 0.9999


def test_training_examples_are_composed_like_windows(encoder: CountingEncoder) -> None:
    texts = [TEXT, "A single sentence about a rail link to Rason."]
    got = example_embeddings(encoder, texts)
    assert got.shape == (2, 384)
    np.testing.assert_allclose(got[1], encoder.encode([texts[1]])[0], atol=1e-6)
    sums = encoder.token_sums([TEXT[slice(*S)] for S in (S1, S2, S3)])
    np.testing.assert_allclose(got[0], normalize(sums.sum(axis=0, keepdims=True))[0], atol=1e-6)


def test_empty_inputs() -> None:
    assert plan([]) == ([], [])
    assert passage_embeddings(Encoder(num_threads=1), [[]]).shape == (0, 384)
