"""Actors and places: names in the text resolved to the profile's gazetteer.

Actors are states and organisations, named directly ("North Korea", "DPRK") or through what
stands for them (capitals, leaders, armies, state media: "Pyongyang", "Kim Jong Un", "KPA",
"KCNA"). Anaphors ("the country", "the two countries") resolve to the most salient actor before
them: the first actor of their own sentence before the anaphor, else of the nearest earlier
sentence, ``context.preceding_sentences`` back at most (a sentence's subject tends to come first,
and that is what "the country" usually picks up).

Places carry coordinates. An ambiguous bare name ("Vostochny": port or cosmodrome) is resolved by
cue words within ``places.cue_window_chars`` of it; with no cue it is returned without coordinates.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from models.extraction.context import Window
from models.extraction.phrases import CaseRules, PhraseIndex, PhraseMatch, Tokens, drop_overlapping
from models.extraction.rules import AmbiguousPlace, ExtractionRules, PlaceRules
from tumen.errors import ConfigError
from tumen.profile import ActorSpec, PlaceSpec
from tumen.schemas import Location

__all__ = ["ActorGazetteer", "Mention", "PlaceGazetteer", "PlaceHit"]

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Mention:
    """An actor named (or referred to) at ``[start, end)`` of the article text."""

    start: int
    end: int
    name: str


class ActorGazetteer:
    def __init__(self, names: PhraseIndex[str], anaphora: PhraseIndex[int], reach: int) -> None:
        self._names = names
        self._anaphora = anaphora
        self._reach = reach

    @classmethod
    def build(
        cls, actors: Sequence[ActorSpec], rules: ExtractionRules, case: CaseRules
    ) -> ActorGazetteer:
        guarded = CaseRules(case.listed, frozenset(rules.actors.not_before_capitalised))
        names = PhraseIndex.of(
            a for spec in actors for a in guarded.aliases([spec.name, *spec.aliases], spec.name)
        )
        singular, pair = rules.actors.anaphora_singular, rules.actors.anaphora_pair
        anaphora = PhraseIndex.of([*case.aliases(singular, 1), *case.aliases(pair, 2)])
        return cls(names, anaphora, rules.context.preceding_sentences)

    def mentions(self, tokens: Tokens, window: Window, blocked: Sequence[Span]) -> list[Mention]:
        """Named and anaphoric actor mentions in the window, in text order."""
        lo, hi = window.context_start, window.sentence_end
        found = drop_overlapping(self._names.find(tokens, lo, hi), blocked)
        named = [Mention(m.start, m.end, m.key) for m in found]
        starts = [m.start for m in named]
        resolved = [
            r
            for a in self._anaphora.find(tokens, lo, hi)
            for r in _resolve(a, named, starts, window.spans_back(a.start, self._reach))
        ]
        return sorted([*named, *resolved], key=lambda m: (m.start, m.end))


def _resolve(
    anaphor: PhraseMatch[int],
    named: Sequence[Mention],
    starts: Sequence[int],
    spans: Sequence[Span],
) -> list[Mention]:
    """The ``anaphor.key`` (1 or 2) most salient distinct actors in ``spans`` (nearest first)."""
    found: list[str] = []
    for lo, hi in spans:
        for mention in named[bisect_left(starts, lo) : bisect_left(starts, hi)]:
            if mention.name not in found:
                found.append(mention.name)
        if len(found) >= anaphor.key:
            break
    return [Mention(anaphor.start, anaphor.end, name) for name in found[: anaphor.key]]


@dataclass(frozen=True, slots=True)
class PlaceHit:
    start: int
    end: int
    location: Location


PlaceKey = Location | AmbiguousPlace


class PlaceGazetteer:
    def __init__(
        self, index: PhraseIndex[PlaceKey], places: dict[str, Location], rules: PlaceRules
    ) -> None:
        self._index = index
        self._places = places
        self._rules = rules
        self._cues = {
            a.alias: [{c.casefold() for c in o.cues} for o in a.options] for a in rules.ambiguous
        }
        self._unresolved = {a.alias: self._unresolved_location(a) for a in rules.ambiguous}

    @classmethod
    def build(
        cls, places: Sequence[PlaceSpec], rules: PlaceRules, case: CaseRules
    ) -> PlaceGazetteer:
        # One frozen Location per place, shared by every hit.
        located = {p.name: _location(p) for p in places}
        for amb in rules.ambiguous:
            unknown = [o.place for o in amb.options if o.place not in located]
            if unknown:
                raise ConfigError(f"unknown place(s) {unknown}", key="extraction.places.ambiguous")
        entries: list[tuple[list[str], PlaceKey]] = [
            ([p.name, *p.aliases], located[p.name]) for p in places
        ]
        entries += [([amb.alias], amb) for amb in rules.ambiguous]
        index = PhraseIndex.of(a for texts, key in entries for a in case.aliases(texts, key))
        return cls(index, located, rules)

    def find(self, tokens: Tokens, lo: int, hi: int, blocked: Sequence[Span]) -> list[PlaceHit]:
        matches = drop_overlapping(self._index.find(tokens, lo, hi), blocked)
        return [PlaceHit(m.start, m.end, self._locate(m, tokens)) for m in matches]

    def _locate(self, match: PhraseMatch[PlaceKey], tokens: Tokens) -> Location:
        if isinstance(match.key, Location):
            return match.key
        chosen = self._choose(match.key, tokens, match.start, match.end)
        return chosen if chosen is not None else self._unresolved[match.key.alias]

    def _choose(self, amb: AmbiguousPlace, tokens: Tokens, start: int, end: int) -> Location | None:
        """The option with the most cue words near the name, if exactly one option leads."""
        w = self._rules.cue_window_chars
        near = set(
            tokens.folded[tokens.index_at_or_after(start - w) : tokens.index_at_or_after(end + w)]
        )
        scores = [len(cues & near) for cues in self._cues[amb.alias]]
        best = max(scores)
        if best == 0 or scores.count(best) > 1:
            return None
        return self._places[amb.options[scores.index(best)].place]

    def _unresolved_location(self, amb: AmbiguousPlace) -> Location:
        """No coordinates; the country only where every option shares it."""
        countries = {self._places[o.place].country for o in amb.options}
        return Location(name=amb.alias, country=countries.pop() if len(countries) == 1 else None)


def _location(spec: PlaceSpec) -> Location:
    return Location(name=spec.name, lat=spec.lat, lon=spec.lon, country=spec.country)
