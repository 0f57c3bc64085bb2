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
        last = bisect.bisect_left(starts, p.end, lo=first)  # units starting inside ``p``
        parts.append([i for _, e, i in body[first:last] if e <= p.end])
    return units, parts


def _contains_another(p: Passage, passages: Sequence[Passage]) -> bool:
    return any(
        not q.in_title
        and p.start <= q.start
        and q.end <= p.end
        and (q.start, q.end) != (p.start, p.end)
        for q in passages
    )


def passage_embeddings(
    encoder: Encoder, documents: Sequence[Sequence[Passage]], *, progress: bool = False
) -> Matrix:
    """Unit-length embeddings of every passage of every document, in order, in one encoder pass."""
    plans = [plan(passages) for passages in documents]
    sums = encoder.token_sums([u.text for units, _ in plans for u in units], progress=progress)
    rows: list[Matrix] = []
    offset = 0
    for units, parts in plans:
        rows.extend(sums[[offset + i for i in indices]].sum(axis=0) for indices in parts)
        offset += len(units)
    if not rows:
        return np.zeros((0, sums.shape[1]), dtype=np.float32)
    return normalize(np.stack(rows).astype(np.float32))


def example_embeddings(encoder: Encoder, texts: Sequence[str], *, progress: bool = False) -> Matrix:
    """One embedding per labelled text, composed from its sentences like a passage window."""
    documents: list[list[Passage]] = []
    for text in texts:
        units = split_passages(text, config=_UNITS_ONLY)
        whole = Passage(text, 0, len(text))  # last in its document
        documents.append([*units, whole] if len(units) > 1 else [whole])
    rows = passage_embeddings(encoder, documents, progress=progress)
    ends = np.cumsum([len(d) for d in documents], dtype=np.int64) - 1
    return rows[ends]
