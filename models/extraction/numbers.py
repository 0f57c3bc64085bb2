"""English number grammar: digits, number words, scales and vague amounts, parsed to an Amount.

This is grammar, not domain rules, so it lives in code; what a vague word such as "several" is
worth comes from the profile (``quantities.vague_multipliers`` and ``quantities.plural_scale``).

Forms and how they parse (``value`` is a point estimate; ``min``/``max`` bound a vague amount):

* ``1,500`` → 1500; ``1.5 million`` → 1 500 000; ``1.2bn``/``$20m``/``10k`` (letters attached to
  the digits are scale abbreviations: an attached ``m`` is *million*, as in news copy, never metres)
* ``twelve``, ``two thousand``, ``thirty-five``, ``a hundred``, ``one hundred and five``, ``half a
  million``
* ``several hundred`` → multiplier range × 100 (``several`` = 2..9, about 3 → 200..900, about 300)
* ``hundreds``, ``dozens``, ``tens of thousands`` → ``plural_scale`` × the scale (2..9 × 10 × 1000)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from models.extraction.rules import VagueNumber

__all__ = [
    "ABBREVIATIONS",
    "DIGITS",
    "NUMBER_WORDS",
    "Amount",
    "NumberGrammar",
    "alternation",
    "bounded",
    "ranged",
    "words",
]


def words(spaced: str) -> list[str]:
    """A word list written as one string, to keep long vocabularies compact."""
    return spaced.split()


ONES = {
    w: i
    for i, w in enumerate(
        words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate(words("twenty thirty forty fifty sixty seventy eighty ninety"))
}
SCALES = {"hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
MULTIPLES = {"dozen": 12.0, **SCALES}
PLURALS = {"tens": 10.0, "dozens": 12.0, "scores": 20.0, **{f"{w}s": v for w, v in SCALES.items()}}
NUMBER_WORDS = frozenset([*ONES, *TENS, *MULTIPLES, *PLURALS])
ABBREVIATIONS = {"k": 1e3, "m": 1e6, "mn": 1e6, "mln": 1e6, "b": 1e9, "bn": 1e9, "tn": 1e12}

DIGITS = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"


def alternation(phrases: Iterable[str]) -> str:
    """A regex alternation of literal phrases, longest first; never matches when empty.

    A space in a phrase matches any run of whitespace.
    """
    unique = sorted({p for p in phrases if p}, key=len, reverse=True)
    if not unique:
        return "(?!)"
    return "(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in unique) + ")"


@dataclass(frozen=True, slots=True)
class Amount:
    """A parsed number: ``scale`` is the factor a bare neighbour in a range may borrow."""

    value: float
    min: float | None = None
    max: float | None = None
    approximate: bool = False
    scale: float = 1.0
    word: bool = False
    attached: str = ""


class NumberGrammar:
    """Regex source for one number and the parser for what it matched."""

    def __init__(self, multipliers: Mapping[str, VagueNumber], plural_scale: VagueNumber) -> None:
        self._multipliers = {" ".join(k.casefold().split()): v for k, v in multipliers.items()}
        self._plural = plural_scale
        self.pattern = self._source()

    def _source(self) -> str:
        small = alternation([*ONES, *TENS])
        word = alternation([*ONES, *TENS, *MULTIPLES])
        scales = alternation(list(MULTIPLES))
        after_scale = "|".join(f"(?<={s})" for s in SCALES)
        and_ = rf"(?:(?:{after_scale})\s+and)?"
        # A number in words starts with a small number or "a": a bare "million tonnes" is a unit.
        words = rf"(?:an?\s+{scales}|{small})(?:{and_}(?:\s+|-){word})*\b"
        half = rf"half\s+an?\s+{scales}\b"
        vague = rf"{alternation(list(self._multipliers))}\s+{scales}(?:\s+{scales})*\b"
        plural = rf"{alternation(list(PLURALS))}(?:\s+of\s+{alternation(list(PLURALS))})*\b"
        digits = rf"(?:{DIGITS})(?:[\s-]*{alternation(list(SCALES))}\b|[A-Za-z]{{1,3}}\b)?"
        return f"(?:{digits}|{half}|{vague}|{plural}|{words})"

    def parse(self, text: str) -> Amount | None:
        """Parse one number as matched by :attr:`pattern`; ``None`` if it is not one after all."""
        text = " ".join(text.replace("-", " ").split()).casefold()
        if text[:1].isdigit():
            return _parse_digits(text)
        words = text.split()
        if words[0] == "half":
            return Amount(0.5 * MULTIPLES[words[-1]], scale=MULTIPLES[words[-1]], word=True)
        if words[0] in PLURALS:
            return self._parse_plural(words)
        vague = self._parse_vague(text)
        return vague if vague is not None else _parse_words(words)

    def _parse_plural(self, words: list[str]) -> Amount:
        base = 1.0
        for w in words:
            base *= PLURALS.get(w, 1.0)
        return _vague(self._plural, base)

    def _parse_vague(self, text: str) -> Amount | None:
        for phrase, vague in self._multipliers.items():
            if text.startswith(phrase + " "):
                base = 1.0
                for w in text[len(phrase) :].split():
                    base *= MULTIPLES.get(w, 1.0)
                return _vague(vague, base)
        return None


def _vague(vague: VagueNumber, base: float) -> Amount:
    return Amount(
        vague.value * base,
        vague.min * base,
        vague.max * base,
        approximate=True,
        scale=base,
        word=True,
    )


_DIGITS_SCALE = re.compile(rf"({DIGITS})\s*([a-z]*)")


def _parse_digits(text: str) -> Amount | None:
    m = _DIGITS_SCALE.fullmatch(text)
    if m is None:
        return None
    number, suffix = float(m.group(1).replace(",", "")), m.group(2)
    scale = SCALES.get(suffix) or ABBREVIATIONS.get(suffix) or 1.0
    attached = suffix if suffix and scale == 1.0 else ""
    return Amount(number * scale, scale=scale, attached=attached)


def _parse_words(words: list[str]) -> Amount | None:
    total, current, scale = 0.0, 0.0, 1.0
    for w in words:
        if w in ("a", "an"):
            current += 1
        elif w in ONES or w in TENS:
            current += ONES.get(w, 0) + TENS.get(w, 0)
        elif w in ("hundred", "dozen"):
            current, scale = (current or 1) * MULTIPLES[w], MULTIPLES[w]
        elif w in SCALES:
            total, current, scale = total + (current or 1) * SCALES[w], 0.0, SCALES[w]
        elif w != "and":
            return None
    return Amount(total + current, scale=scale, word=True)


def ranged(low: Amount, high: Amount) -> Amount:
    """``low`` to ``high`` as one approximate amount; a bare low end borrows the high end's
    scale ("10 to 12 million")."""
    if low.scale == 1.0 and high.scale > 1.0 and low.value <= high.value / high.scale:
        low = replace(low, value=low.value * high.scale, min=None, max=None)
    lo = min(low.min or low.value, high.min or high.value)
    hi = max(low.max or low.value, high.max or high.value)
    return Amount(
        (low.value + high.value) / 2, lo, hi, approximate=True, scale=high.scale, word=low.word
    )


def bounded(amount: Amount, kinds: Sequence[str]) -> Amount:
    """Apply modifiers outermost first, so the one nearest the number has the last word."""
    low, high, v = amount.min, amount.max, amount.value
    for kind in kinds:
        if kind == "at_least":
            low, high = v, (None if high == v else high)
        elif kind == "at_most":
            low, high = (None if low == v else low), v
    return replace(amount, min=low, max=high, approximate=amount.approximate or bool(kinds))
