"""Quantities: a table of phrases and what they parse to, and what is not a quantity."""

from __future__ import annotations

import pytest

from models.extraction import Extractor
from tumen.profile import load_profile
from tumen.schemas import Quantity

_: None = None  # "not set" in the table below


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor.from_profile(load_profile())


def quantities(extractor: Extractor, text: str) -> list[Quantity]:
    return extractor.extract(text, 0, len(text), "trade_logistics").quantities


# phrase, value, unit, approximate, min, max
TABLE: list[tuple[str, float, str | None, bool, float | None, float | None]] = [
    ("several hundred workers", 300, "workers", True, 200, 900),
    ("several hundred new laborers", 300, "workers", True, 200, 900),
    ("four or more freight trains", 4, "trains", True, 4, _),
    ("as many as 6 million artillery shells", 6e6, "shells", True, _, 6e6),
    ("as many as four or more trains", 4, "trains", True, 4, _),
    ("1.5 million tonnes", 1.5e6, "tonnes", False, _, _),
    ("around 30 people", 30, "people", True, _, _),
    ("dozens of containers", 36, "containers", True, 24, 108),
    ("more than 10,000 troops", 10_000, "troops", True, 10_000, _),
    ("13,000 containers", 13_000, "containers", False, _, _),
    ("$20 million", 20e6, "USD", False, _, _),
    ("US$1.2bn", 1.2e9, "USD", False, _, _),
    ("1.2bn dollars", 1.2e9, "USD", False, _, _),
    ("\u20ac5m", 5e6, "EUR", False, _, _),
    ("twelve trains", 12, "trains", False, _, _),
    ("two thousand workers", 2000, "workers", False, _, _),
    ("one hundred and twenty soldiers", 120, "troops", False, _, _),
    ("thirty-five containers", 35, "containers", False, _, _),
    ("a dozen drones", 12, "drones", False, _, _),
    ("half a million barrels", 5e5, "barrels", False, _, _),
    ("1,500 soldiers", 1500, "troops", False, _, _),
    ("2,000 North Korean troops", 2000, "troops", False, _, _),
    ("832-thousand tons", 832_000, "tonnes", False, _, _),
    ("up to 500 tonnes", 500, "tonnes", True, _, 500),
    ("at least 40 vessels", 40, "ships", True, 40, _),
    ("nearly 16,000 labourers", 16_000, "workers", True, _, 16_000),
    ("10,000-plus troops", 10_000, "troops", True, 10_000, _),
    ("between 10,000 and 12,000 troops", 11_000, "troops", True, 10_000, 12_000),
    ("10,000 to 12,000 troops", 11_000, "troops", True, 10_000, 12_000),
    ("10 to 12 million barrels", 11e6, "barrels", True, 10e6, 12e6),
    ("two or three trains", 2.5, "trains", True, 2, 3),
    ("hundreds of thousands of shells", 3e5, "shells", True, 2e5, 9e5),
    ("tens of thousands of troops", 3e4, "troops", True, 2e4, 9e4),
    ("a few thousand workers", 3000, "workers", True, 2000, 5000),
    ("thousands of workers", 3000, "workers", True, 2000, 9000),
    ("some 756 agencies", 756, "agencies", True, _, _),
    ("about 1,000 kilometres", 1000, "km", True, _, _),
    ("30%", 30, "percent", False, _, _),
    ("30 per cent", 30, "percent", False, _, _),
    ("a third", 1 / 3, "fraction", False, _, _),
    ("two-thirds", 2 / 3, "fraction", False, _, _),
    ("about three-quarters", 0.75, "fraction", True, _, _),
    ("twelve", 12, _, False, _, _),
    ("two thousand", 2000, _, False, _, _),
    ("1,500", 1500, _, False, _, _),
    ("1.2bn", 1.2e9, _, False, _, _),
]


@pytest.mark.parametrize(("phrase", "value", "unit", "approx", "low", "high"), TABLE)
def test_phrase(
    extractor: Extractor,
    phrase: str,
    value: float,
    unit: str | None,
    approx: bool,
    low: float | None,
    high: float | None,
) -> None:
    (q,) = quantities(extractor, phrase)
    assert q.text == phrase
    assert q.value == pytest.approx(value)
    assert (q.unit, q.approximate) == (unit, approx)
    assert q.min == (None if low is None else pytest.approx(low))
    assert q.max == (None if high is None else pytest.approx(high))


def test_quantity_inside_a_sentence_keeps_its_own_text(extractor: Extractor) -> None:
    text = "Officials said more than 10,000 troops had left, and 13,000 containers followed."
    assert [(q.text, q.value, q.unit) for q in quantities(extractor, text)] == [
        ("more than 10,000 troops", 10_000, "troops"),
        ("13,000 containers", 13_000, "containers"),
    ]


def test_counted_noun_is_the_first_plural_noun(extractor: Extractor) -> None:
    (q,) = quantities(extractor, "All eight border crossings means only cargo can pass.")
    assert (q.text, q.unit) == ("eight border crossings", "crossings")


def test_rate_joins_the_text_not_the_unit(extractor: Extractor) -> None:
    (q,) = quantities(extractor, "About 20 trains per day cross the bridge.")
    assert (q.text, q.unit, q.value) == ("About 20 trains per day", "trains", 20)


def test_dimension_sides_of_different_length(extractor: Extractor) -> None:
    (q,) = quantities(extractor, "beams of 200 x 500 mm")
    assert (q.text, q.unit, q.value, q.min, q.max) == ("200 x 500 mm", "mm", 500, 200, 500)


def test_dimension_in_inches_alongside_millimetres(extractor: Extractor) -> None:
    found = quantities(extractor, "pieces of 500mm x 500mm (19.7 in x 19.7 in) timber")
    assert [(q.value, q.unit) for q in found] == [(500, "mm"), (19.7, "in")]


@pytest.mark.parametrize(
    "text",
    [
        "It happened in 2023.",
        "Russia fired KN-23 and Hwasong-11 missiles.",
        "The S-400 and the T-72 were seen.",
        "One of the sources said so.",
        "The launch came at 2:55 p.m. local time.",
        "The test was at around 7 pm on Wednesday.",
        "The 1st battalion moved.",
        "Samsung launched the Galaxy Note 9.",
        "The 38 North website published images.",
        "152mm shells were delivered.",
        "It was expected on October 12.",
        "That was two weeks ago.",
    ],
)
def test_not_a_quantity(extractor: Extractor, text: str) -> None:
    assert quantities(extractor, text) == []


def test_calibre_is_not_an_amount_but_the_count_is(extractor: Extractor) -> None:
    found = quantities(extractor, "Some 500,000 152mm shells were shipped.")
    assert [(q.text, q.value, q.unit) for q in found] == [
        ("Some 500,000", 500_000, None),
    ]


def test_duplicate_quantities_are_reported_once(extractor: Extractor) -> None:
    text = "They sent 300 workers. Then 300 workers more."
    assert [q.text for q in quantities(extractor, text)] == ["300 workers"]
