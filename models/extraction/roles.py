"""Roles around a direction cue: its clause, its subject, the actor a marker introduces.

A :class:`Scene` holds one passage's actor mentions ("parties", places standing for their
country included), marker words and clause breaks, sorted, so every question below is a bisection
and a short scan: a long passage costs a little more per cue, never quadratically more.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from models.extraction.context import Window
from models.extraction.gazetteer import Mention
from models.extraction.phrases import PhraseMatch

__all__ = ["Scene", "Subject"]

_AUX = (
    r"(?:is|are|was|were|be|been|being|get|gets|got)"
    r"(?:\s+(?:\w+ly|also|not|now|still|already|being|been))*"
)
# A passive right before the cue: "is paid", "are being shipped", "were also sent".
_PASSIVE = re.compile(rf"(?<!\w){_AUX}\s+$", re.IGNORECASE)
# The actor is the passive's subject, so it receives: "Pyongyang is paid in wheat".
_RECIPIENT = re.compile(rf"\s+{_AUX}\s+", re.IGNORECASE)
# The actor qualifies the passive's subject, so it sends: "North Korean workers are sent".
_ORIGIN = re.compile(rf"(?:['\u2019]s)?(?:\s+(?-i:[a-z])[\w-]*){{1,3}}\s+{_AUX}\s+", re.IGNORECASE)
_PASSIVE_LOOKBACK = 40


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    recipient: bool = False
    """The actor is the subject of a passive send, so it receives ("Pyongyang is paid")."""


@dataclass(frozen=True, slots=True)
class Scene:
    """Everything a direction search needs about one passage."""

    text: str
    window: Window
    parties: Sequence[Mention]
    markers: Sequence[PhraseMatch[str]]
    breaks: Sequence[int]
    adjacent: re.Pattern[str]
    with_markers: tuple[str, ...]
    reach: int
    _party_starts: list[int] = field(init=False)
    _marker_starts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_party_starts", [p.start for p in self.parties])
        object.__setattr__(self, "_marker_starts", [m.start for m in self.markers])

    def clause(self, cue: PhraseMatch[str]) -> tuple[int, int]:
        """``[lo, hi)`` of the clause around the cue: its sentence, cut at clause breaks."""
        lo = self.window.sentence_of(cue.start)
        hi = self.window.sentence_after(cue.start)
        i = bisect_left(self.breaks, cue.start)
        if i:
            lo = max(lo, self.breaks[i - 1])
        j = bisect_left(self.breaks, cue.end)
        if j < len(self.breaks):
            hi = min(hi, self.breaks[j])
        return lo, hi

    def adjacent_party(self, pos: int) -> str | None:
        """The actor that starts right after ``pos`` (an article or listed adjective between)."""
        i = bisect_left(self._party_starts, pos)
        if i == len(self.parties):
            return None
        party = self.parties[i]
        return party.name if self.adjacent.fullmatch(self.text, pos, party.start) else None

    def after_marker(self, kind: str, cue: PhraseMatch[str], hi: int) -> str | None:
        """The actor introduced by the first ``kind`` marker after the cue in its clause."""
        for marker in self.markers[bisect_left(self._marker_starts, cue.end) :]:
            if marker.start >= hi:
                break
            if marker.key == kind and (found := self.adjacent_party(marker.end)) is not None:
                return found
        return None

    def with_object(self, cue: PhraseMatch[str]) -> str | None:
        """``supplied Russia with shells``: the actor right after the cue, then "with"."""
        i = bisect_left(self._party_starts, cue.end)
        if i == len(self.parties) or self.adjacent_party(cue.end) is None:
            return None
        party = self.parties[i]
        rest = self.text[party.end : party.end + 12].lstrip().casefold()
        return party.name if rest.startswith(self.with_markers) else None

    def is_passive(self, cue: PhraseMatch[str]) -> bool:
        if cue.alias.endswith("ing"):  # "is supplying" is active
            return False
        lo = max(0, cue.start - _PASSIVE_LOOKBACK)
        return _PASSIVE.search(self.text, lo, cue.start) is not None

    def subject(
        self, cue: PhraseMatch[str], lo: int, exclude: str | None, *, passive: bool = False
    ) -> Subject | None:
        """Nearest actor before the cue in its clause, else the first of an earlier sentence.

        Before a passive cue the nearest actor counts only when it is the passive's subject (it
        then receives) or qualifies it ("North Korean workers are sent"); any other actor there
        belongs to another clause ("Seoul spotted containers being shipped"), and the sender is
        sought in the earlier sentences.
        """
        last = self._last_party(lo, cue.start, exclude)
        if last is not None:
            if not passive or _ORIGIN.fullmatch(self.text, last.end, cue.start):
                return Subject(last.name)
            if _RECIPIENT.fullmatch(self.text, last.end, cue.start):
                return Subject(last.name, recipient=True)
        return self._earlier_subject(cue, exclude)

    def _last_party(self, lo: int, hi: int, exclude: str | None) -> Mention | None:
        i = bisect_left(self._party_starts, hi) - 1
        while i >= 0 and self.parties[i].start >= lo:
            if self.parties[i].name != exclude:
                return self.parties[i]
            i -= 1
        return None

    def _earlier_subject(self, cue: PhraseMatch[str], exclude: str | None) -> Subject | None:
        """The first actor of the nearest earlier sentence (within reach) that has one."""
        for lo, hi in self.window.spans_back(cue.start, self.reach)[1:]:
            i, j = bisect_left(self._party_starts, lo), bisect_left(self._party_starts, hi)
            for party in self.parties[i:j]:
                if party.name != exclude:
                    return Subject(party.name)
        return None
