"""The extraction facade: one passage of an article in, the event's fields out.

What is read where (offsets into the whole article text):

* ``text[start:end]``, the evidence passage: actors, items, quantities, locations, time, and the
  cue words for direction.
* the sentence(s) the passage touches, in full: attribution ("…, the source said" often closes the
  sentence a passage was cut from).
* up to ``context.preceding_sentences`` sentences before the passage (``context.max_chars`` at
  most): antecedents of "the country" / "the two countries", and the implicit subject of a cue
  ("They will be sent to Russia" → the sender named in the sentence before). An actor found this
  way is listed in ``actors`` too (a sender first, a receiver last).

Nothing after the sentence that ends the passage is read. ``event_type`` narrows the item
lexicons (``items.lexicons_by_event_type``) and turns direction off for types that state no
transfer (``direction.skip_event_types``); an unknown type is extracted like any other.

Everything is compiled once in :meth:`Extractor.from_profile` (about half a second for the
default profile). :meth:`Extractor.extract` scans the text once into word tokens and matches the
gazetteer, lexicons and cue words by dictionary lookup; regexes run only where a number or date
can start. Its cost follows the passage, not the article: a few milliseconds for a paragraph,
one to two seconds for a megabyte passage.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.extraction.attribution import AttributionFinder
from models.extraction.context import Window
from models.extraction.direction import DirectionFinder
from models.extraction.gazetteer import ActorGazetteer, Mention, PlaceGazetteer, PlaceHit
from models.extraction.lexicon import ItemLexicon
from models.extraction.phrases import (
    CaseRules,
    PhraseIndex,
    PhraseMatch,
    Tokens,
    gap_key,
    hits,
    merge_spans,
)
from models.extraction.quantities import QuantityFinder, QuantityHit
from models.extraction.rules import ExtractionRules, parse_rules
from models.extraction.timeexpr import TimeFinder, TimeHit
from tumen.profile import Profile
from tumen.schemas import Direction, Location, Quantity

__all__ = ["Extracted", "Extractor"]

Span = tuple[int, int]
_CALIBRE_GAP = 2


@dataclass(frozen=True, slots=True)
class Extracted:
    """The extracted fields of one event; empty lists and ``None`` where the text gives nothing."""

    actors: list[str] = field(default_factory=list)
    direction: Direction | None = None
    items: list[str] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    time_text: str | None = None
    attribution: str | None = None

    def as_event_fields(self) -> dict[str, Any]:
        """Keyword arguments for :class:`tumen.schemas.Event`: fresh lists, frozen models."""
        return {
            "actors": list(self.actors),
            "direction": self.direction,
            "items": list(self.items),
            "quantities": list(self.quantities),
            "locations": list(self.locations),
            "time_text": self.time_text,
            "attribution": self.attribution,
        }


@dataclass(frozen=True, slots=True)
class _Parts:
    """The compiled extractors of one profile."""

    rules: ExtractionRules
    false_friends: PhraseIndex[str]
    actors: ActorGazetteer
    places: PlaceGazetteer
    items: ItemLexicon
    quantities: QuantityFinder
    times: TimeFinder
    attribution: AttributionFinder
    direction: DirectionFinder


class Extractor:
    """Extracts actors, direction, items, quantities, locations, time and attribution.

    Build one with :meth:`from_profile`; it is immutable and safe to share between threads.
    """

    def __init__(self, *, parts: _Parts) -> None:
        self._p = parts

    @classmethod
    def from_profile(cls, profile: Profile) -> Extractor:
        """Validate the profile's ``extraction`` section and compile every index (once)."""
        rules = parse_rules(profile.extraction, source=profile.name)
        case = CaseRules(frozenset(rules.case_sensitive))
        items = ItemLexicon.build(profile.lexicons, rules.items, case)
        names = [n for a in profile.actors for n in (a.name, *a.aliases)]
        parts = _Parts(
            rules=rules,
            false_friends=PhraseIndex.of(case.aliases(rules.false_friends, "false friend")),
            actors=ActorGazetteer.build(profile.actors, rules, case),
            places=PlaceGazetteer.build(profile.places, rules.places, case),
            items=items,
            quantities=QuantityFinder(rules.quantities, items.index, case),
            times=TimeFinder(rules.time),
            attribution=AttributionFinder(rules.attribution, names),
            direction=DirectionFinder(
                rules.direction, case, reach=rules.context.preceding_sentences
            ),
        )
        return cls(parts=parts)

    def extract(self, text: str, start: int, end: int, event_type: str) -> Extracted:
        """The fields of an ``event_type`` event whose evidence is ``text[start:end]``.

        ``text`` is the whole article; see the module docstring for what is read around the
        passage. An empty or blank passage gives an empty result. Raises ``ValueError`` when the
        offsets do not lie within the text (a programming error, not bad input).
        """
        _check_span(text, start, end)
        if not text[start:end].strip():
            return Extracted()
        p = self._p
        window = Window.around(text, start, end, p.rules.context)
        tokens = Tokens.scan(text, window.context_start, window.sentence_end)
        blocked = [(m.start, m.end) for m in p.false_friends.find(tokens)]
        mentions = p.actors.mentions(tokens, window, blocked)
        places = p.places.find(tokens, window.context_start, window.sentence_end, blocked)
        items = p.items.find(tokens, start, end, blocked, event_type)
        direction = p.direction.find(tokens, window, _parties(mentions, places), event_type)
        times = p.times.find(text, start, end, tokens)
        # Numbers inside names, item names ("152mm shells") and dates are not amounts.
        taken = [*blocked, *_spans(mentions), *_spans(places), *_spans(items), *_spans(times)]
        return Extracted(
            actors=_actors(mentions, start, end, direction),
            direction=direction,
            items=_unique(m.key[1] for m in items),
            quantities=_quantities(p.quantities.find(text, start, end, tokens), taken, items, text),
            locations=_locations(places, start, end),
            time_text=p.times.choose(text, start, times),
            attribution=p.attribution.find(text, window.sentence_start, window.sentence_end),
        )


def _check_span(text: str, start: int, end: int) -> None:
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"passage [{start}:{end}] is not within a text of {len(text)} characters")


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _spans(found: Iterable[Mention | PlaceHit | PhraseMatch[Any] | TimeHit]) -> list[Span]:
    return [(f.start, f.end) for f in found]


def _parties(mentions: Sequence[Mention], places: Sequence[PlaceHit]) -> list[Mention]:
    """Actor mentions plus places standing for their country, in text order."""
    located = [Mention(h.start, h.end, h.location.country) for h in places if h.location.country]
    return sorted([*mentions, *located], key=lambda m: (m.start, m.end))


def _actors(
    mentions: Sequence[Mention], start: int, end: int, direction: Direction | None
) -> list[str]:
    """Passage actors in order; a direction end found outside the passage joins them."""
    names = _unique(m.name for m in mentions if start <= m.start < end)
    if direction is not None:
        if direction.source and direction.source not in names:
            names.insert(0, direction.source)
        if direction.target and direction.target not in names:
            names.append(direction.target)
    return names


def _locations(places: Sequence[PlaceHit], start: int, end: int) -> list[Location]:
    seen: dict[str, Location] = {}
    for hit in places:
        if start <= hit.start < end:
            seen.setdefault(hit.location.name, hit.location)
    return list(seen.values())


def _quantities(
    found: Sequence[QuantityHit],
    taken: Sequence[Span],
    items: Sequence[PhraseMatch[Any]],
    text: str,
) -> list[Quantity]:
    """Quantities that are not part of a name, a date or a calibre ("152mm shells")."""
    spans = merge_spans(taken)
    starts = [s for s, _ in spans]
    item_starts = sorted(m.start for m in items)
    kept: dict[tuple[str, float | None, str | None], Quantity] = {}
    for hit in found:
        if hits(spans, starts, hit.number_start, hit.number_end):
            continue
        if hit.is_length and _calibre(hit.end, item_starts, text):
            continue
        q = hit.quantity
        kept.setdefault((q.text, q.value, q.unit), q)
    return list(kept.values())


def _calibre(end: int, item_starts: Sequence[int], text: str) -> bool:
    """A length right before an item names its calibre, not an amount."""
    i = bisect_left(item_starts, end)
    if i == len(item_starts) or item_starts[i] > end + _CALIBRE_GAP:
        return False
    return gap_key(text[end : item_starts[i]] or " ") == " "
