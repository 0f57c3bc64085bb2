"""Items: weapons, goods and other things that change hands, from the profile's lexicons.

Each lexicon entry is a canonical name ("artillery shells") with aliases ("shells", "152mm
rounds"). The longest alias wins, so "cooking oil" is not also "oil". ``items.
lexicons_by_event_type`` may narrow the lexicons searched for an event type; a type it does not
list searches them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from models.extraction.phrases import CaseRules, PhraseIndex, PhraseMatch, Tokens, drop_overlapping
from models.extraction.rules import ItemRules
from tumen.errors import ConfigError
from tumen.profile import LexiconEntry

__all__ = ["ItemKey", "ItemLexicon"]

ItemKey = tuple[str, str]
"""``(lexicon, canonical name)``."""


class ItemLexicon:
    def __init__(self, index: PhraseIndex[ItemKey], by_type: Mapping[str, frozenset[str]]) -> None:
        self._index = index
        self._by_type = by_type

    @classmethod
    def build(
        cls, lexicons: Mapping[str, Sequence[LexiconEntry]], rules: ItemRules, case: CaseRules
    ) -> ItemLexicon:
        for event_type, names in rules.lexicons_by_event_type.items():
            unknown = sorted(set(names) - set(lexicons))
            if unknown:
                key = f"extraction.items.lexicons_by_event_type.{event_type}"
                raise ConfigError(f"unknown lexicon(s) {unknown}", key=key)
        index = PhraseIndex.of(
            a
            for lexicon, entries in lexicons.items()
            for entry in entries
            for a in case.aliases([entry.name, *entry.aliases], (lexicon, entry.name))
        )
        by_type = {t: frozenset(names) for t, names in rules.lexicons_by_event_type.items()}
        return cls(index, by_type)

    @property
    def index(self) -> PhraseIndex[ItemKey]:
        return self._index

    def find(
        self, tokens: Tokens, lo: int, hi: int, blocked: Sequence[tuple[int, int]], event_type: str
    ) -> list[PhraseMatch[ItemKey]]:
        """Item mentions in ``[lo, hi)`` from the lexicons that apply to ``event_type``."""
        wanted = self._by_type.get(event_type)
        matches = drop_overlapping(self._index.find(tokens, lo, hi), blocked)
        return [m for m in matches if wanted is None or m.key[0] in wanted]
