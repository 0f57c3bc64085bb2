"""Direction: who sends and who receives, where the text states it.

Cue words come from ``extraction.direction`` and have a kind:

* ``send`` verbs ("shipped", "exported", "dispatch"): the target follows a *to* marker ("to",
  "into") or is the object of "supplied X with"; the source follows *from*/*by* ("shipped from
  X", "were sent … by X"), else it is the subject.
* ``send_noun`` ("exports of", "shipments"): as send; "dispatches of North Korean workers" takes
  the source from the actor right after "of".
* ``receive`` verbs and ``receive_noun``: the subject is the target; the source follows *from*, or
  directly follows the cue ("imports of Russian oil").
* ``destination`` ("bound for", "arrived in") and an actor with a target suffix ("Russia-bound"):
  the actor after (or before) is the target, the subject the source.
* ``visit`` verbs ("visited"): the actor directly after is the target, the subject the source.

The *subject* is the nearest actor before the cue in its clause (a clause ends at ``;`` or a
``direction.clause_breakers`` word such as "while"). With none there, it is the first actor of the
nearest earlier sentence (``context.preceding_sentences`` at most) that is not the target ("North
Korea is recruiting workers. They will be sent to Russia …" → North Korea → Russia). Before a
passive, see :meth:`~models.extraction.roles.Scene.subject`. Places stand for their country.

The first cue of the passage that yields both ends wins; else the first that yields one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from models.extraction.context import Window
from models.extraction.gazetteer import Mention
from models.extraction.numbers import alternation
from models.extraction.phrases import CaseRules, PhraseIndex, PhraseMatch, Tokens
from models.extraction.roles import Scene
from models.extraction.rules import DirectionRules
from tumen.schemas import Direction

__all__ = ["DirectionFinder", "Ends"]

_SEMICOLON = re.compile(";")


@dataclass(frozen=True, slots=True)
class Ends:
    source: str | None
    target: str | None


class DirectionFinder:
    def __init__(self, rules: DirectionRules, case: CaseRules, *, reach: int = 1) -> None:
        cues = {
            "send": rules.send_verbs,
            "send_noun": rules.send_nouns,
            "receive": rules.receive_verbs,
            "receive_noun": rules.receive_nouns,
            "destination": rules.destinations,
            "visit": rules.visit_verbs,
            "ignore": rules.not_cues,  # "in return" is no "return"
        }
        markers = {
            "to": rules.to_markers,
            "from": rules.from_markers,
            "by": rules.by_markers,
            "ignore": rules.not_markers,  # "according to" is no "to"
        }
        self._cues = _kinds_index(cues, case)
        self._markers = _kinds_index(markers, case)
        self._breakers = PhraseIndex.of(case.aliases(rules.clause_breakers, "break"))
        self._with = tuple(f"{w.casefold()} " for w in rules.with_markers)
        # Between a marker (or cue) and its actor: an article, and a listed adjective at most
        # ("to the Kremlin", "to communist North Korea").
        adjectives = alternation(rules.actor_adjectives)
        self._adjacent = re.compile(rf"\s+(?:(?:the|a|an)\s+)?(?:{adjectives}\s+)?", re.I)
        self._suffixes = tuple(rules.target_suffixes)
        self._skip = frozenset(rules.skip_event_types)
        self._reach = reach

    def find(
        self, tokens: Tokens, window: Window, parties: Sequence[Mention], event_type: str
    ) -> Direction | None:
        """The direction stated in the passage, from actor and place ``parties`` in the window."""
        if event_type in self._skip or not parties:
            return None
        scene = self._scene(tokens, window, parties)
        best: Ends | None = None
        for cue in self._cue_list(tokens, scene):
            ends = _resolve(cue, scene)
            if ends.source and ends.target:
                return Direction(source=ends.source, target=ends.target)
            best = best or (ends if ends.source or ends.target else None)
        return None if best is None else Direction(source=best.source, target=best.target)

    def _scene(self, tokens: Tokens, window: Window, parties: Sequence[Mention]) -> Scene:
        lo, hi = window.context_start, window.sentence_end
        breaks = [m.start for m in self._breakers.find(tokens, lo, hi)]
        breaks += [m.start() for m in _SEMICOLON.finditer(tokens.text, lo, hi)]
        return Scene(
            text=tokens.text,
            window=window,
            parties=parties,
            markers=self._markers.find(tokens, lo, hi),
            breaks=sorted(breaks),
            adjacent=self._adjacent,
            with_markers=self._with,
            reach=self._reach,
        )

    def _cue_list(self, tokens: Tokens, scene: Scene) -> list[PhraseMatch[str]]:
        w = scene.window
        cues = [c for c in self._cues.find(tokens, w.start, w.end) if c.key != "ignore"]
        for p in scene.parties:
            if w.start <= p.start < w.end and scene.text.startswith(self._suffixes, p.end):
                cues.append(PhraseMatch(p.start, p.end, "suffix", p.name))
        return sorted(cues, key=lambda c: c.start)


def _kinds_index(kinds: dict[str, list[str]], case: CaseRules) -> PhraseIndex[str]:
    return PhraseIndex.of(a for kind, words in kinds.items() for a in case.aliases(words, kind))


def _resolve(cue: PhraseMatch[str], scene: Scene) -> Ends:
    lo, hi = scene.clause(cue)
    if cue.key == "suffix":
        subject = scene.subject(cue, lo, cue.alias)
        return _ends(subject.name if subject else None, cue.alias)
    if cue.key in ("receive", "receive_noun"):
        source = scene.after_marker("from", cue, hi) or scene.adjacent_party(cue.end)
        subject = scene.subject(cue, lo, source)
        return _ends(source, subject.name if subject else None)
    return _send(cue, scene, lo, hi)


def _send(cue: PhraseMatch[str], scene: Scene, lo: int, hi: int) -> Ends:
    target = scene.after_marker("to", cue, hi)
    if cue.key in ("destination", "visit"):
        target = target or scene.adjacent_party(cue.end)
    target = target or scene.with_object(cue)
    source = scene.after_marker("from", cue, hi) or scene.after_marker("by", cue, hi)
    if cue.key == "send_noun":
        source = source or scene.adjacent_party(cue.end)
    if source and target:
        return _ends(source, target)
    subject = scene.subject(cue, lo, target, passive=scene.is_passive(cue))
    if subject is not None and subject.recipient:
        return _ends(source, target or subject.name)
    return _ends(source or (subject.name if subject else None), target)


def _ends(source: str | None, target: str | None) -> Ends:
    return Ends(source, None if target == source else target)
