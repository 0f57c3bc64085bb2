"""The regex shapes of a quantity, built once from the profile's word lists.

See :mod:`models.extraction.quantities` for what a quantity is; this module only turns the
``extraction.quantities`` lists (modifiers, currency prefixes, length units) into patterns.
"""

from __future__ import annotations

import re

from models.extraction.numbers import DIGITS, NUMBER_WORDS, alternation
from models.extraction.rules import QuantityRules

__all__ = [
    "FRACTIONS",
    "NUMERATORS",
    "dimension_pattern",
    "fold",
    "fraction_pattern",
    "main_pattern",
    "modifier_kinds",
    "openers",
]

FRACTIONS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4}
FRACTIONS |= {"fifth": 5, "fifths": 5, "tenth": 10, "tenths": 10}
NUMERATORS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4}


def openers(rules: QuantityRules) -> frozenset[str]:
    """Words a quantity can start with (besides digits): modifiers, number words, "between"."""
    firsts = [*rules.approximate, *rules.at_least, *rules.at_most, *rules.vague_multipliers]
    firsts += [*rules.currency_prefixes, *NUMBER_WORDS, *NUMERATORS, "between", "half"]
    return frozenset(w.split()[0].casefold().rstrip(".") for w in firsts if w.split())


def main_pattern(rules: QuantityRules, number: str, cur: str, pre: str) -> re.Pattern[str]:
    """Modifiers, one number or a range of two, a suffix modifier (the unit is sought later)."""
    numc = rf"(?:{cur}\s?)?{number}(?:\s*(?:%|(?:percent|per\s+cent)\b))?"
    suf = alternation([*rules.suffix_at_least, *rules.suffix_at_most, *rules.suffix_approximate])
    return re.compile(
        rf"(?<![\w.,:$\-/\u20ac\u00a3\u20a9])(?:(?P<pre>{pre}(?:\s+{pre})?)\s+)?"
        rf"(?:between\s+(?P<lo>{numc})\s+and\s+(?P<hi>{numc})"
        rf"|(?P<a>{numc})(?:\s*(?:-|\u2013|\u2014|to|or)\s*(?P<b>{numc}))?)"
        rf"(?P<suf>(?:\s*-\s*|\s*){suf}(?!\w))?",
        re.I,
    )


def dimension_pattern(rules: QuantityRules) -> re.Pattern[str]:
    """Two or three sides with a length unit: ``500mm x 500mm``, ``200 x 500 mm``."""
    lengths = alternation(a for u in rules.length_units for a in [u, *rules.units.get(u, [])])
    side = rf"({DIGITS})\s*({lengths})?"
    return re.compile(
        rf"(?<![\w.,]){side}\s*[x\u00d7]\s*{side}(?:\s*[x\u00d7]\s*{side})?(?!\w)", re.I
    )


def modifier_kinds(rules: QuantityRules) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for kind, phrases in (
        ("approximate", [*rules.approximate, *rules.suffix_approximate]),
        ("at_least", [*rules.at_least, *rules.suffix_at_least]),
        ("at_most", [*rules.at_most, *rules.suffix_at_most]),
    ):
        kinds.update((fold(w), kind) for w in phrases)
    return kinds


def fold(phrase: str) -> str:
    return " ".join(phrase.casefold().split())


def fraction_pattern(pre: str) -> re.Pattern[str]:
    """An optional modifier, then "a third", "two-thirds", "three quarters"."""
    return re.compile(
        rf"(?<![\w-])(?:(?P<pre>{pre})\s+)?(?P<num>{alternation(NUMERATORS)})[\s-]+"
        rf"(?P<den>{alternation(FRACTIONS)})(?![\w-])",
        re.I,
    )
