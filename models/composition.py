"""Passage embeddings built from sentence embeddings, so that each sentence is encoded once.

An article's passages overlap: every sentence is a passage, and so is every window of consecutive
sentences. Encoding each window afresh would run the encoder over most sentences three times.
Instead only the *units* are encoded (passages that contain no other passage: sentences, word
windows of over-long sentences, the title), and a window is embedded as the normalised sum of its
units' token-state sums. That is mean pooling over the window's tokens, with each sentence
contextualised on its own; the head is trained on embeddings made the same way (see
:func:`example_embeddings`), so training and inference agree.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from models.encoder import Encoder, normalize
from models.passages import Passage, PassageConfig, split_passages

__all__ = ["Plan", "example_embeddings", "passage_embeddings", "plan"]

Matrix = npt.NDArray[np.float32]
Plan = tuple[list[Passage], list[list[int]]]

_UNITS_ONLY = PassageConfig(max_sentences=1, overlap=0)


def plan(passages: Sequence[Passage]) -> Plan:
    """The units to encode, and for each passage the indices of the units it is made of."""
    units = [p for p in passages if p.in_title or not _contains_another(p, passages)]
    body = sorted((u.start, u.end, i) for i, u in enumerate(units) if not u.in_title)
    starts = [b[0] for b in body]
    index = {id(u): i for i, u in enumerate(units)}
    parts: list[list[int]] = []
    for p in passages:
        if id(p) in index:
            parts.append([index[id(p)]])
            continue
        first = bisect.bisect_left(starts, p.start)
        inside = [i for s, e, i in body[first:] if s < p.end and e <= p.end]
        parts.append(inside)
    return units, parts


def _contains_another(p: Passage, passages: Sequence[Passage]) -> bool:
    return any(
        not q.in_title
        and p.start <= q.start
        and q.end <= p.end
        and (q.start, q.end) != (p.start, p.end)
        for q in passages
    )


def passage_embeddings(encoder: Encoder, documents: Sequence[Sequence[Passage]]) -> Matrix:
    """Unit-length embeddings of every passage of every document, in order, in one encoder pass."""
    plans = [plan(passages) for passages in documents]
    texts = [u.text for units, _ in plans for u in units]
    sums = encoder.token_sums(texts)
    rows: list[Matrix] = []
    offset = 0
    for units, parts in plans:
        for indices in parts:
            rows.append(sums[[offset + i for i in indices]].sum(axis=0))
        offset += len(units)
    if not rows:
        return np.zeros((0, sums.shape[1]), dtype=np.float32)
    return normalize(np.stack(rows).astype(np.float32))


def example_embeddings(encoder: Encoder, texts: Sequence[str], *, progress: bool = False) -> Matrix:
    """One embedding per labelled text, composed from its sentences like a passage window."""
    documents: list[list[Passage]] = []
    for text in texts:
        units = split_passages(text, config=_UNITS_ONLY) or [Passage(text, 0, len(text))]
        whole = Passage(text, 0, len(text))
        documents.append([*units, whole] if len(units) > 1 else [whole])
    plans = [plan(d) for d in documents]
    unit_texts = [u.text for units, _ in plans for u in units]
    sums = encoder.token_sums(unit_texts, progress=progress)
    rows: list[Matrix] = []
    offset = 0
    for units, parts in plans:
        rows.append(sums[[offset + i for i in parts[-1]]].sum(axis=0))
        offset += len(units)
    return normalize(np.stack(rows).astype(np.float32)) if rows else sums
