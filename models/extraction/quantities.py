"""Quantities: "several hundred workers", "more than 10,000 troops", "$20 million", "500mm x 500mm".

A quantity is a number (see :mod:`models.extraction.numbers`) with what surrounds it:

* modifiers from the profile: ``about 30`` (approximate), ``more than 10,000`` / ``four or more``
  (``min``), ``as many as 6 million`` / ``up to`` (``max``); every modifier sets ``approximate``.
  When modifiers disagree ("as many as four or more") the one nearest the number wins, the suffix
  nearest of all.
* ranges: ``10,000 to 12,000``, ``two or three``, ``between 3 and 5``: ``min``/``max`` with the
  midpoint as ``value``; a bare low end borrows the high end's scale ("10 to 12 million").
* the unit: a currency prefix (``$`` → USD), ``%``/``percent``, an attached unit (``500mm``), or the
  counted noun found within a few words after the number, skipping adjectives and names ("several
  hundred new laborers" → ``workers``, via ``quantities.units``; an item name from the lexicons;
  else the first plural-looking noun). A rate right after the unit ("a day") joins the text only.
* dimensions: ``500mm x 500mm`` is one quantity with unit ``mm``, ``value`` = the largest side and
  ``min``/``max`` = the smallest/largest side (so every side lies within ``[min, max]``).
* fractions: ``a third`` → ``1/3`` with unit ``fraction``.

Dropped: bare years (``2023``: the time extractor's business), a lone "one"/"a" with no unit, and
digits glued to letters or hyphens (``KN-23``, ``1st``, ``S-400``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from models.extraction.lexicon import ItemKey
from models.extraction.numbers import (
    NUMBER_WORDS,
    Amount,
    NumberGrammar,
    alternation,
    bounded,
    ranged,
    words,
)
from models.extraction.phrases import (
    CaseRules,
    PhraseIndex,
    Tokens,
    gap_key,
    hits,
    match_each,
    merge_spans,
)
from models.extraction.quantity_shapes import (
    FRACTIONS,
    NUMERATORS,
    dimension_pattern,
    fold,
    fraction_pattern,
    main_pattern,
    modifier_kinds,
    openers,
)
from models.extraction.rules import QuantityRules
from tumen.schemas import Quantity

__all__ = ["QuantityFinder", "QuantityHit"]

# Words that end the search for a counted noun: the noun phrase after the number is over.
_STOP = frozenset(
    words(
        "and or to in into from for the a an per by with at on that which who were was are is "
        "be been have has had will would could should may might than since this these those its "
        "their his her as each every while but if when"
    )
)
_YEARS = (1800, 2100)
# "2:55 p.m.", "24/7", "7 pm": clock times, not amounts.
_CLOCK = re.compile(r"[:/][0-9]|\s*(?:[ap]\.m\.|[ap]m\b)", re.IGNORECASE)
_LOOKAHEAD_CHARS = 80
_LOOKAHEAD_TOKENS = 5


@dataclass(frozen=True, slots=True)
class QuantityHit:
    """A quantity at ``[start, end)``; the number itself (no modifier, currency or unit) lies at
    ``[number_start, number_end)``: only that part must not belong to a name or a date."""

    start: int
    end: int
    quantity: Quantity
    number_start: int
    number_end: int
    is_length: bool = False


class QuantityFinder:
    def __init__(self, rules: QuantityRules, items: PhraseIndex[ItemKey], case: CaseRules) -> None:
        self._items = items
        self._units: PhraseIndex[str] = PhraseIndex.of(
            a for unit, aliases in rules.units.items() for a in case.aliases([unit, *aliases], unit)
        )
        self._rates: PhraseIndex[str] = PhraseIndex.of(case.aliases(rules.rates, "rate"))
        self._lengths = frozenset(rules.length_units)
        self._modifier = modifier_kinds(rules)
        self._grammar = NumberGrammar(rules.vague_multipliers, rules.plural_scale)
        self._currency = {k.casefold(): v for k, v in rules.currency_prefixes.items()}
        self._openers = openers(rules)
        cur = alternation(rules.currency_prefixes)
        self._currency_prefix = re.compile(rf"(?:{cur}\s?)?", re.I)
        self._currency_before = re.compile(rf"{cur}\s?$", re.I)
        self._piece = re.compile(
            rf"(?:({cur})\s?)?(.*?)(\s*(?:%|percent|per\s+cent))?", re.I | re.S
        )
        pre = alternation([*rules.approximate, *rules.at_least, *rules.at_most])
        self._pre_words = re.compile(pre, re.I)
        self._main = main_pattern(rules, self._grammar.pattern, cur, pre)
        self._dims = dimension_pattern(rules)
        self._fraction = fraction_pattern(pre)

    def find(self, text: str, lo: int, hi: int, tokens: Tokens | None = None) -> list[QuantityHit]:
        """Quantities in ``text[lo:hi]``, in text order.

        ``tokens`` must cover ``[lo, hi)`` and a few words beyond (where units are sought);
        without them the text is scanned here. Dimensions are matched first, then fractions,
        then other numbers: "500mm x 500mm" is one quantity, "three-quarters" not three things.
        """
        if tokens is None:
            tokens = Tokens.scan(text, lo, min(len(text), hi + _LOOKAHEAD_CHARS))
        digits, words = self._candidates(tokens, lo, hi)
        found: list[QuantityHit] = []
        for pattern, starts, make in (
            (self._dims, digits, self._dimension),
            (self._fraction, words, self._fractional),
            (
                self._main,
                self._main_starts(text, lo, digits, words),
                lambda m: self._quantity(m, tokens),
            ),
        ):
            matches = match_each(pattern, text, starts, hi)
            hits_ = [h for m in matches if (h := make(m)) is not None]
            found += _without(hits_, merge_spans((h.start, h.end) for h in found))
        return sorted(found, key=lambda h: h.start)

    def _candidates(self, tokens: Tokens, lo: int, hi: int) -> tuple[list[int], list[int]]:
        """Where a quantity may start: digit tokens, and words that open one ("more", "two")."""
        digits: list[int] = []
        words: list[int] = []
        i, n = tokens.index_at_or_after(lo), len(tokens.starts)
        while i < n and tokens.starts[i] < hi:
            if tokens.raw[i][0].isdigit():
                digits.append(tokens.starts[i])
            elif tokens.folded[i] in self._openers:
                words.append(tokens.starts[i])
            i += 1
        return digits, words

    def _main_starts(self, text: str, lo: int, digits: list[int], words: list[int]) -> list[int]:
        """Candidate starts of the main pattern: a currency sign before digits ("$20") opens it."""
        moved = []
        for start in digits:
            sign = self._currency_before.search(text, max(lo, start - 5), start)
            moved.append(sign.start() if sign else start)
        return sorted([*moved, *words])

    # -- one match ---------------------------------------------------------------------------

    def _quantity(self, m: re.Match[str], tokens: Tokens) -> QuantityHit | None:
        text = tokens.text
        amount, unit = self._amount(m)
        if amount is None or _CLOCK.match(text, m.end()):
            return None
        end = m.end()
        if unit is None:
            found = self._unit_after(tokens, end)
            if found is not None:
                unit, end = found
        if _noise(m, amount, unit):
            return None
        end = self._rate_after(tokens, end)
        quantity = _make(text[m.start() : end], amount, unit)
        core = m.start("lo") if m.group("lo") else m.start("a")
        prefix = self._currency_prefix.match(text, core)  # always matches, possibly empty
        core = prefix.end() if prefix else core
        return QuantityHit(m.start(), end, quantity, core, m.end(), unit in self._lengths)

    def _amount(self, m: re.Match[str]) -> tuple[Amount | None, str | None]:
        first, second = (
            (m.group("lo"), m.group("hi")) if m.group("lo") else (m.group("a"), m.group("b"))
        )
        low, unit = self._piece_amount(first)
        if low is None:
            return None, None
        if second:
            high, unit2 = self._piece_amount(second)
            if high is None:
                return None, None
            low, unit = ranged(low, high), unit or unit2
        return self._modified(low, m.group("pre"), m.group("suf")), unit

    def _piece_amount(self, piece: str) -> tuple[Amount | None, str | None]:
        parts = self._piece.fullmatch(piece)
        if parts is None:
            return None, None
        amount = self._grammar.parse(parts.group(2))
        if amount is None:
            return None, None
        unit = self._currency.get((parts.group(1) or "").casefold())
        if parts.group(3):
            unit = "percent"
        if amount.attached:
            unit = unit or self._attached_unit(amount.attached)
            if unit is None:
                return None, None
        return amount, unit

    def _attached_unit(self, letters: str) -> str | None:
        hit = self._units.match_at(Tokens.scan(letters), 0)
        return hit[0].key if hit else None

    def _modified(self, amount: Amount, pre: str | None, suf: str | None) -> Amount:
        kinds = [self._modifier[fold(w.group())] for w in self._pre_words.finditer(pre or "")]
        if suf:
            kinds.append(self._modifier[fold(suf.strip().lstrip("-").strip())])
        return bounded(amount, kinds)

    def _unit_after(self, tokens: Tokens, pos: int) -> tuple[str, int] | None:
        """The counted noun within a few words after ``pos``, and where it ends."""
        first = tokens.index_at_or_after(pos)
        for i in range(first, min(len(tokens.starts), first + _LOOKAHEAD_TOKENS)):
            gap = tokens.text[pos if i == first else tokens.ends[i - 1] : tokens.starts[i]]
            if gap_key(gap) != " " or _ends_phrase(tokens.folded[i]):
                break
            hit = self._units.match_at(tokens, i) or self._items.match_at(tokens, i)
            if hit is not None:
                key = hit[0].key
                return (key if isinstance(key, str) else key[1]), hit[0].end
            if _plural_noun(tokens.raw[i]):
                # The first plural noun heads the phrase: "eight border crossings means …".
                return tokens.folded[i], tokens.ends[i]
        return None

    def _rate_after(self, tokens: Tokens, pos: int) -> int:
        i = tokens.index_at_or_after(pos)
        if i == len(tokens.starts) or gap_key(tokens.text[pos : tokens.starts[i]]) != " ":
            return pos
        hit = self._rates.match_at(tokens, i)
        return hit[0].end if hit else pos

    def _dimension(self, m: re.Match[str]) -> QuantityHit | None:
        sides = [float(s.replace(",", "")) for s in m.group(1, 3, 5) if s]
        alias = next((u for u in reversed(m.group(2, 4, 6)) if u), None)
        unit = self._attached_unit(alias) if alias else None
        if unit is None:
            return None
        q = Quantity(text=m.group(), value=max(sides), unit=unit, min=min(sides), max=max(sides))
        return QuantityHit(m.start(), m.end(), q, m.start(), m.end(), is_length=True)

    def _fractional(self, m: re.Match[str]) -> QuantityHit:
        value = NUMERATORS[m.group("num").casefold()] / FRACTIONS[m.group("den").casefold()]
        amount = self._modified(Amount(value), m.group("pre"), None)
        quantity = _make(m.group(), amount, "fraction")
        return QuantityHit(m.start(), m.end(), quantity, m.start("num"), m.end())


def _ends_phrase(word: str) -> bool:
    """A function word or another number: the counted noun was not found."""
    return word in _STOP or word[:1].isdigit() or word in NUMBER_WORDS


def _plural_noun(word: str) -> bool:
    return (
        len(word) >= 4
        and word.isalpha()
        and word.islower()
        and word.endswith("s")
        and not word.endswith("ss")
    )


def _noise(m: re.Match[str], amount: Amount, unit: str | None) -> bool:
    """A bare year, a lone "one" ("one of the sources"), or part of a name ("Ligue 1")."""
    if unit is not None or m.group("pre") or m.group("suf"):
        return False
    if amount.word:
        return amount.value == 1 and not (m.group("b") or m.group("hi"))
    pieces = [p for p in m.group("a", "b", "lo", "hi") if p]
    if all(p.isdigit() and _YEARS[0] <= int(p) <= _YEARS[1] for p in pieces):
        return True
    before = _NAME_BEFORE.search(m.string, max(0, m.start() - 40), m.start())
    return before is not None and before.group(1).casefold() not in _STOP | _CAPITALISED_OK


# "Galaxy Note 9", "Minuteman 3": a bare number right after a capitalised word is a name's part.
_NAME_BEFORE = re.compile(r"(?<![.!?]\s)\b((?-i:[A-Z])[\w'\u2019-]*)\s+$", re.IGNORECASE)
_CAPITALISED_OK = frozenset(
    ["about", "some", "all", "only", "another", "over", "nearly", "almost", "around"]
)


def _make(text: str, amount: Amount, unit: str | None) -> Quantity:
    return Quantity(
        text=" ".join(text.split()),
        value=amount.value,
        unit=unit,
        approximate=amount.approximate,
        min=amount.min,
        max=amount.max,
    )


def _without(found: Sequence[QuantityHit], taken: Sequence[tuple[int, int]]) -> list[QuantityHit]:
    starts = [s for s, _ in taken]
    return [h for h in found if not hits(taken, starts, h.start, h.end)]
