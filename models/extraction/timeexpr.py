"""Time expressions: "at the end of this month", "last month", "on Wednesday", "since mid-2022".

The patterns are built from the profile's word lists (``extraction.time``): month and weekday
names (matched case-sensitively, so "may" the verb is not May), relative words (last, this, next),
edges (early, mid, late), parts (end, beginning), units (week, month, year), prepositions and
deictic words (yesterday). A preposition joins the expression ("in October"); a bare month, year or
season needs one ("2023" alone is not a time, "in 2023" is). Adjacent expressions merge ("on
Wednesday, October 11").

:meth:`TimeFinder.choose` picks the event's time: the first expression that is not the *reporting*
time ("a source told Daily NK on Wednesday that …": a reporting verb right before it), falling back
to the reporting time when that is all the passage gives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from models.extraction.numbers import ONES, TENS, alternation
from models.extraction.phrases import Tokens, match_each
from models.extraction.rules import TimeRules

__all__ = ["TimeFinder", "TimeHit"]

_MERGE_GAP = re.compile(r"[\s,]{1,3}")
_REPORT_LOOKBACK = 60
# How many words an expression may run before its anchor word ("as early as the beginning of
# the second half of October").
_REACH = 12


@dataclass(frozen=True, slots=True)
class TimeHit:
    start: int
    end: int
    text: str


class TimeFinder:
    def __init__(self, rules: TimeRules) -> None:
        self._pattern = re.compile(_source(rules), re.IGNORECASE)
        # Every expression contains one of these words (or digits): the regex runs near them.
        words = [*rules.months, *rules.weekdays, *rules.seasons, *rules.day_parts]
        words += [w for u in rules.units for w in (u, f"{u}s")]
        words += [w for d in rules.deictic for w in d.split()]
        self._anchors = frozenset(w.casefold().rstrip(".") for w in words)
        # ... and starts with one of these words (or digits).
        firsts = [*rules.prepositions, *rules.edges, *rules.parts, *rules.relative]
        firsts += [*rules.deictic, *rules.months, *rules.weekdays, *ONES, *TENS]
        firsts += ["the", "earlier", "later", "early", "late", "a", "an", "several", "recent"]
        self._openers = frozenset(w.split()[0].casefold().rstrip(".") for w in firsts if w.split())
        self._preposition = re.compile(rf"{alternation(rules.prepositions)}\s", re.IGNORECASE)
        report = alternation(rules.reporting_verbs)
        self._reporting = re.compile(
            rf"(?<!\w){report}(?:\s+(?-i:[A-Z])[\w.'\u2019-]*){{0,3}}"
            rf"(?:\s+in\s+an?\s+(?:statement|report|briefing|interview))?\s*,?\s*$",
            re.IGNORECASE,
        )

    def find(self, text: str, lo: int, hi: int, tokens: Tokens | None = None) -> list[TimeHit]:
        """Every time expression in ``text[lo:hi]``, adjacent ones merged, in text order.

        ``tokens`` (covering ``[lo, hi)``) saves a re-scan when the caller has them.
        """
        tokens = tokens if tokens is not None else Tokens.scan(text, lo, hi)
        spans: list[tuple[int, int]] = []
        for m in match_each(self._pattern, text, self._starts(tokens, lo, hi), hi):
            if self._continues(text, spans, m):
                spans[-1] = (spans[-1][0], m.end())
            else:
                spans.append((m.start(), m.end()))
        return [TimeHit(s, e, " ".join(text[s:e].split())) for s, e in spans]

    def _starts(self, tokens: Tokens, lo: int, hi: int) -> list[int]:
        """Where an expression may start: a word that can open one, with an anchor word (a
        month, "week", digits …) at most ``_REACH`` words on."""
        folded, raw, starts = tokens.folded, tokens.raw, tokens.starts
        first = tokens.index_at_or_after(lo)
        last = tokens.index_at_or_after(hi)
        found: list[int] = []
        anchor = None  # index of the nearest anchor at or after i, scanning backwards
        for i in range(min(len(starts), last + _REACH) - 1, first - 1, -1):
            if folded[i] in self._anchors or raw[i][0].isdigit():
                anchor = i
            opens = folded[i] in self._openers or raw[i][0].isdigit()
            if i < last and opens and anchor is not None and anchor - i <= _REACH:
                found.append(starts[i])
        return found[::-1]

    def _continues(self, text: str, spans: list[tuple[int, int]], m: re.Match[str]) -> bool:
        """Whether ``m`` extends the previous expression: "on Wednesday, October 11"."""
        if not spans or not _MERGE_GAP.fullmatch(text, spans[-1][1], m.start()):
            return False
        return self._preposition.match(text, m.start()) is None

    def is_reporting(self, text: str, lo: int, hit: TimeHit) -> bool:
        """Whether a reporting verb right before ``hit`` makes it the time of the report."""
        start = max(lo, hit.start - _REPORT_LOOKBACK)
        return self._reporting.search(text, start, hit.start) is not None

    def choose(self, text: str, lo: int, hits: Sequence[TimeHit]) -> str | None:
        """The first non-reporting expression, else the first one; ``None`` if there is none."""
        for hit in hits:
            if not self.is_reporting(text, lo, hit):
                return hit.text
        return hits[0].text if hits else None


def _source(r: TimeRules) -> str:
    """The regex source for one time expression (see the module docstring)."""
    mon = rf"(?-i:{alternation(r.months)})(?!\w)"
    wd = rf"(?-i:{alternation(r.weekdays)})(?!\w)"
    year = r"(?:1[89]|20)[0-9]{2}(?![\w-])"
    day = r"[0-3]?[0-9](?:st|nd|rd|th)?(?!\w)"
    season, unit, rel = alternation(r.seasons), alternation(r.units), alternation(r.relative)
    edge, part, daypart = alternation(r.edges), alternation(r.parts), alternation(r.day_parts)
    count = alternation(["a", "an", "several", "a few", "a couple of", *ONES, *TENS])
    count = rf"(?:{count}|[0-9]+)"
    dated = rf"(?:,?\s+{year})?"
    date = rf"{mon}\.?\s+{day}{dated}|{day}\s+(?:of\s+)?{mon}{dated}|{mon},?\s+{year}"
    date = rf"(?:{date}|{year}-[01][0-9]-[0-3][0-9](?!\d))"
    edged = rf"{edge}(?:-|\s+)(?:{mon}{dated}|{year}|{season}|{rel}\s+(?:{unit}|{season}))"
    what = rf"(?:{date}|{edged}|{mon}|{year}|{season}|{unit})"
    partof = rf"(?:the\s+)?{part}\s+of\s+(?:(?:the|this|next|last|that)\s+)?{what}"
    shift = r"(?:(?:earlier|later|early|late)\s+)?"
    relative = rf"{shift}{rel}\s+(?:{unit}|{season}|{wd}|{mon})(?:\s+{daypart})?"
    ago = rf"{count}\s+{unit}s?\s+{alternation(r.ago)}"
    weekday = rf"{wd}(?:\s+{daypart})?"
    stretch = rf"(?:the\s+)?(?:{rel}|recent)\s+(?:{count}\s+)?{unit}s?"
    bare = rf"(?:the\s+)?(?:{date}|{edged}|{mon}|{year}|{season}(?:\s+{year})?|{stretch})"
    prep = alternation(r.prepositions)
    free = rf"{date}|{edged}|{partof}|{relative}|{ago}|{weekday}|{alternation(r.deictic)}"
    return rf"(?<![\w-])(?:(?:(?:{prep})\s+)?(?:{free})|{prep}\s+{bare})(?!\w)"
