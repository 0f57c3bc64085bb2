"""Attribution: who says so. "according to a source", "a source told Daily NK", "KCNA reported".

A *source phrase* is a short noun phrase whose head is a source noun ("source", "officials",
"agency", "media"), a named outlet ("Daily NK", "KCNA") or an actor name ("the Kremlin"),
optionally with a determiner ("another"), up to four modifiers (listed adjectives such as
"anonymous", "spy", "state", or capitalised words such as "Seoul's") and a qualifier ("in North
Korea", "inside the country"). It counts as attribution in four shapes:

* ``according to`` / ``citing`` + source phrase
* source phrase + ``told`` + outlet or capitalised name ("a source in North Korea told Daily NK")
* source phrase + ``said``/``reported``/… ("Seoul's spy agency said")
* ``said``/… + source phrase ("…, said the source")

For speed, the shapes are only tried in a small window around each cue verb. The first attribution
in the searched range is returned, whitespace normalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from models.extraction.numbers import alternation
from models.extraction.rules import AttributionRules

__all__ = ["AttributionFinder"]

_BEFORE = 180
_AFTER = 140
# A capitalised word; a full stop only inside it ("U.S"), never the sentence's own.
_CAP = r"(?-i:[A-Z])(?:[\w'\u2019-]|\.(?=\w))*"


class AttributionFinder:
    def __init__(self, rules: AttributionRules, actor_names: Iterable[str] = ()) -> None:
        leads, told, said = (
            alternation(w) for w in (rules.leads, rules.told_verbs, rules.said_verbs)
        )
        outlets = alternation(rules.outlets)
        mod = rf"(?:{alternation(rules.modifiers)}|(?-i:[A-Z])[\w.\-]*(?:['\u2019]s)?)"
        head = (
            rf"(?:{alternation(rules.source_nouns)}|{outlets}|{alternation(actor_names)})(?![\w])"
        )
        place = rf"(?:the\s+)?(?:{_CAP}(?:\s+{_CAP}){{0,3}}|[a-z]+)"  # "North Korea", "the country"
        qual = rf"(?:\s+{alternation(rules.qualifiers)}\s+{place})?"
        np = rf"(?:{alternation(rules.determiners)}\s+)?(?:{mod}(?:\s+and)?\s+){{0,4}}{head}{qual}"
        shapes = (
            rf"(?<!\w){leads}\s+{np}",
            rf"(?<!\w){np}\s*,?\s+{told}\s+(?:{outlets}|reporters|journalists|{_CAP}(?:\s+{_CAP}){{0,2}})",
            rf"(?<!\w){np}\s+(?:(?:has|have|had)\s+)?{said}(?!\w)",
            rf"(?<!\w){said}\s+{np}(?=\s*(?:[,.;:!?\"\u201d]|$))",
        )
        self._shapes = [re.compile(s, re.IGNORECASE) for s in shapes]
        self._cue = re.compile(rf"(?<!\w)(?:{leads}|{told}|{said})(?!\w)", re.IGNORECASE)

    def find(self, text: str, lo: int, hi: int) -> str | None:
        """The first attribution in ``text[lo:hi]``, or ``None``."""
        for cue in self._cue.finditer(text, lo, hi):
            found = self._around(text, cue, lo, hi)
            if found is not None:
                return " ".join(found.split()).rstrip(",")
        return None

    def _around(self, text: str, cue: re.Match[str], lo: int, hi: int) -> str | None:
        """The earliest (then longest) shape that contains ``cue``."""
        w_lo, w_hi = max(lo, cue.start() - _BEFORE), min(hi, cue.end() + _AFTER)
        found: list[tuple[int, int]] = []
        for shape in self._shapes:
            for m in shape.finditer(text, w_lo, w_hi):
                if m.start() <= cue.start() and m.end() >= cue.end():
                    found.append((m.start(), -m.end()))
        if not found:
            return None
        start, neg_end = min(found)
        return text[start:-neg_end]
