"""Token-level phrase matching: many aliases, one pass, linear in the text.

One big regex alternation of a few hundred aliases costs seconds per megabyte in ``re`` (every
branch is tried at every position). Here the text is split into word tokens once, and each token
costs one dict lookup on its case-folded form; only aliases whose first token matches are tried.

Matching rules, shared by actors, places, items, units and cue words:

* Whole tokens only: ``Russian`` never matches inside ``Russians`` (list plurals as aliases).
* Between two tokens the text may use any run of spaces and hyphens where the alias has a space
  or a hyphen (``Kim Jong-un`` = ``Kim Jong Un``); other separators must agree (``U.S.``,
  ``People's``), with typographic apostrophes counted as ``'``.
* Case-insensitive, except *case-sensitive* aliases (acronyms such as ``US``/``UN``, and names
  the profile lists, such as ``the North``): their capitalised tokens must match as written, or
  in capitals (headlines).
* Leftmost, then longest: ``North Korean`` beats ``North``; matches do not overlap.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "Alias",
    "CaseRules",
    "PhraseIndex",
    "PhraseMatch",
    "Tokens",
    "drop_overlapping",
    "gap_key",
    "hits",
    "is_acronym",
    "match_each",
    "merge_spans",
]

K = TypeVar("K")

_TOKEN = re.compile(r"\w+")
_SOFT_GAP = re.compile(r"[\s\-\u2010-\u2015\u00ad]+")
_SPACES = re.compile(r"\s+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def gap_key(gap: str) -> str:
    """Normalise the text between two tokens so equivalent separators compare equal."""
    if _SOFT_GAP.fullmatch(gap):
        return " "
    return _SPACES.sub("", gap.translate(_APOSTROPHES))


def is_acronym(alias: str) -> bool:
    """``KPA``, ``U.S.``, ``KN-23``: at least two letters, all of them capitals."""
    letters = [c for c in alias if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


@dataclass(frozen=True, slots=True)
class Tokens:
    """The word tokens of ``text[lo:hi]`` with their offsets in ``text``."""

    text: str
    starts: list[int]
    ends: list[int]
    raw: list[str]
    folded: list[str]

    @classmethod
    def scan(cls, text: str, lo: int = 0, hi: int | None = None) -> Tokens:
        starts: list[int] = []
        ends: list[int] = []
        raw: list[str] = []
        for m in _TOKEN.finditer(text, lo, len(text) if hi is None else hi):
            starts.append(m.start())
            ends.append(m.end())
            raw.append(m.group())
        return cls(text, starts, ends, raw, [t.casefold() for t in raw])

    def __len__(self) -> int:
        return len(self.starts)

    def gap(self, i: int) -> str:
        """The text between token ``i`` and token ``i + 1``."""
        return self.text[self.ends[i] : self.starts[i + 1]]

    def index_at_or_after(self, pos: int) -> int:
        """Index of the first token starting at or after ``pos`` (``len(self)`` if none)."""
        return bisect_left(self.starts, pos)


@dataclass(frozen=True, slots=True)
class Alias(Generic[K]):
    """One alias, pre-split into tokens, pointing at ``key`` (a canonical name or a spec)."""

    text: str
    key: K
    folded: tuple[str, ...]
    exact: tuple[str, ...]
    gaps: tuple[str, ...]
    case_sensitive: bool
    not_before_capitalised: bool
    trailing: str

    @classmethod
    def build(
        cls,
        text: str,
        key: K,
        *,
        case_sensitive: bool = False,
        not_before_capitalised: bool = False,
    ) -> Alias[K] | None:
        parts = list(_TOKEN.finditer(text))
        if not parts:
            return None
        gaps = tuple(gap_key(text[a.end() : b.start()]) for a, b in itertools.pairwise(parts))
        return cls(
            text=text,
            key=key,
            folded=tuple(p.group().casefold() for p in parts),
            exact=tuple(p.group() for p in parts),
            gaps=gaps,
            case_sensitive=case_sensitive,
            not_before_capitalised=not_before_capitalised,
            trailing=text[parts[-1].end() :].strip(),
        )


@dataclass(frozen=True, slots=True)
class CaseRules:
    """Which aliases match case-sensitively (listed, acronyms) or carry the capital guard."""

    listed: frozenset[str] = frozenset()
    guarded: frozenset[str] = frozenset()

    def alias(self, text: str, key: K) -> Alias[K] | None:
        return Alias.build(
            text,
            key,
            case_sensitive=text in self.listed or is_acronym(text),
            not_before_capitalised=text in self.guarded,
        )

    def aliases(self, texts: Iterable[str], key: K) -> list[Alias[K] | None]:
        return [self.alias(t, key) for t in dict.fromkeys(texts)]


@dataclass(frozen=True, slots=True)
class PhraseMatch(Generic[K]):
    start: int
    end: int
    key: K
    alias: str


def _case_ok(expected: str, actual: str) -> bool:
    if expected == actual or not any(c.isupper() for c in expected):
        return True
    return len(actual) > 1 and actual.isupper()


@dataclass(slots=True)
class PhraseIndex(Generic[K]):
    """Aliases grouped by their first case-folded token, longest first."""

    _by_first: dict[str, list[Alias[K]]] = field(default_factory=dict)

    @classmethod
    def of(cls, aliases: Iterable[Alias[K] | None]) -> PhraseIndex[K]:
        index: PhraseIndex[K] = cls()
        for alias in aliases:
            if alias is not None:
                index._by_first.setdefault(alias.folded[0], []).append(alias)
        for group in index._by_first.values():
            group.sort(key=lambda a: (len(a.folded), len(a.text)), reverse=True)
        return index

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def find(self, tokens: Tokens, lo: int = 0, hi: int | None = None) -> list[PhraseMatch[K]]:
        """All non-overlapping matches that lie within ``[lo, hi)`` of the text."""
        hi = len(tokens.text) if hi is None else hi
        out: list[PhraseMatch[K]] = []
        first, folded, starts = self._by_first, tokens.folded, tokens.starts
        i, n = tokens.index_at_or_after(lo), len(starts)
        while i < n and starts[i] < hi:
            # Hot loop: one dict probe per token; only candidate tokens pay for a call.
            if folded[i] in first:
                match = self.match_at(tokens, i)
                if match is not None and match[0].end <= hi:
                    out.append(match[0])
                    i += match[1]
                    continue
            i += 1
        return out

    def match_at(self, tokens: Tokens, i: int) -> tuple[PhraseMatch[K], int] | None:
        """The longest alias starting at token ``i``, with the number of tokens it spans."""
        nxt = tokens.folded[i + 1] if i + 1 < len(tokens.folded) else None
        for alias in self._by_first.get(tokens.folded[i], ()):
            if len(alias.folded) > 1 and alias.folded[1] != nxt:
                continue  # cheap pre-check: most candidates already differ on the second word
            if self._matches(alias, tokens, i):
                n = len(alias.folded)
                end = tokens.ends[i + n - 1] + len(alias.trailing)
                return PhraseMatch(tokens.starts[i], end, alias.key, alias.text), n
        return None

    @staticmethod
    def _matches(alias: Alias[K], tokens: Tokens, i: int) -> bool:
        n = len(alias.folded)
        if i + n > len(tokens.starts):
            return False
        for j in range(n):
            if j and (
                tokens.folded[i + j] != alias.folded[j]
                or gap_key(tokens.gap(i + j - 1)) != alias.gaps[j - 1]
            ):
                return False
            if alias.case_sensitive and not _case_ok(alias.exact[j], tokens.raw[i + j]):
                return False
        if alias.trailing and not tokens.text.startswith(alias.trailing, tokens.ends[i + n - 1]):
            return False  # "US$" needs its "$", "U.S." its final stop
        return not (alias.not_before_capitalised and _capitalised_next(tokens, i + n - 1))


def _capitalised_next(tokens: Tokens, last: int) -> bool:
    """True when a capitalised word follows on the same line: ``the North Atlantic``."""
    if last + 1 >= len(tokens.starts):
        return False
    gap = tokens.gap(last)
    return gap_key(gap) == " " and "\n" not in gap and tokens.raw[last + 1][:1].isupper()


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping union of ``spans``."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def match_each(
    pattern: re.Pattern[str], text: str, starts: Iterable[int], hi: int
) -> Iterator[re.Match[str]]:
    """Non-overlapping matches of ``pattern`` anchored at the candidate ``starts`` (ascending).

    Used instead of ``finditer`` where the caller knows where a match can begin (a word that
    opens a quantity or a date): one anchored attempt per candidate instead of one per
    character keeps a megabyte cheap.
    """
    pos = -1
    for start in starts:
        if start >= pos and (m := pattern.match(text, start, hi)) is not None:
            pos = m.end()
            yield m


def drop_overlapping(
    matches: Sequence[PhraseMatch[K]], blockers: Iterable[tuple[int, int]]
) -> list[PhraseMatch[K]]:
    """Matches that overlap none of the blocking spans (false friends such as ``Daily NK``)."""
    spans = merge_spans(blockers)
    starts = [s for s, _ in spans]
    return [m for m in matches if not hits(spans, starts, m.start, m.end)]


def hits(spans: Sequence[tuple[int, int]], starts: Sequence[int], start: int, end: int) -> bool:
    """Whether ``[start, end)`` overlaps one of the merged, sorted ``spans``."""
    i = bisect_left(starts, end) - 1
    return i >= 0 and spans[i][1] > start
