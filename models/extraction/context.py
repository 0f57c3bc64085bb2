"""Sentence windows around an evidence passage.

The classifier hands over ``text[start:end]``; some fields need a little more. The sentence(s)
containing the passage are searched for attribution ("…, the source said" often closes the
sentence the passage cut), and up to ``context.preceding_sentences`` sentences before it (at most
``context.max_chars`` characters) are searched for the actor that "the country" or an implicit
subject ("… were sent to Russia") refers to. Nothing after the passage's sentence is read.

Sentence splitting is deliberately simple: ``.``, ``!`` or ``?`` (plus closing quotes) followed by
whitespace and a capital, or a line break. "U.S. officials" does not split; "Mr. Kim" does.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from models.extraction.rules import ContextRules

__all__ = ["Window", "sentence_starts"]

_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z])|\n+\s*")
# A sentence longer than this is cut: the window never depends on the size of the whole text.
_MAX_SENTENCE = 1500


def sentence_starts(text: str, lo: int, hi: int) -> list[int]:
    """Offsets in ``[lo, hi)`` where a sentence starts (``lo`` itself not included)."""
    return [m.end() for m in _BOUNDARY.finditer(text, lo, hi) if m.end() < hi]


@dataclass(frozen=True, slots=True)
class Window:
    """Offsets around a passage.

    ``context_start <= sentence_start <= start <= end <= sentence_end``.
    """

    context_start: int
    sentence_start: int
    start: int
    end: int
    sentence_end: int
    sentences: tuple[int, ...]
    """Starts of the sentences in the window, ``context_start`` first."""

    @classmethod
    def around(cls, text: str, start: int, end: int, rules: ContextRules) -> Window:
        floor = max(0, start - _MAX_SENTENCE - rules.max_chars)
        before = ([0] if floor == 0 else []) + sentence_starts(text, floor, start + 1)
        sentence_start = before[-1] if before else max(0, start - _MAX_SENTENCE)
        back = before[:-1][-rules.preceding_sentences :] if rules.preceding_sentences else []
        context_start = back[0] if back else sentence_start
        context_start = min(sentence_start, max(context_start, start - rules.max_chars))
        sentence_end = _sentence_end(text, start, end)
        inner = sentence_starts(text, context_start, sentence_end)
        return cls(context_start, sentence_start, start, end, sentence_end, (context_start, *inner))

    def sentence_of(self, pos: int) -> int:
        """Start of the sentence (within the window) that contains ``pos``."""
        return self.sentences[max(0, bisect_right(self.sentences, pos) - 1)]

    def sentence_after(self, pos: int) -> int:
        """Start of the first sentence after ``pos`` (``sentence_end`` if none)."""
        i = bisect_right(self.sentences, pos)
        return self.sentences[i] if i < len(self.sentences) else self.sentence_end

    def spans_back(self, pos: int, count: int) -> list[tuple[int, int]]:
        """``[lo, hi)`` of ``pos``'s sentence up to ``pos``, then of ``count`` earlier ones."""
        i = max(0, bisect_right(self.sentences, pos) - 1)
        spans = [(self.sentences[i], pos)]
        for k in range(i - 1, max(-1, i - 1 - count), -1):
            spans.append((self.sentences[k], self.sentences[k + 1]))
        return spans


def _sentence_end(text: str, start: int, end: int) -> int:
    """End of the sentence containing the passage's last character (after its full stop)."""
    if end <= start:
        return end
    limit = min(len(text), end + _MAX_SENTENCE)
    m = _BOUNDARY.search(text, end - 1, limit)
    if m is None:
        return limit
    stop = m.start() + len(m.group().rstrip())
    return max(end, stop)
