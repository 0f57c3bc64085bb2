"""Cue-driven fields: direction, time expressions and attribution, table by table."""

from __future__ import annotations

import pytest

from models.extraction import Extracted, Extractor
from tumen.profile import load_profile
from tumen.schemas import Direction

NK, RU, SK = "North Korea", "Russia", "South Korea"


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor.from_profile(load_profile())


def run(extractor: Extractor, text: str, event_type: str = "arms_transfer") -> Extracted:
    return extractor.extract(text, 0, len(text), event_type)


DIRECTIONS = [
    ("North Korea shipped artillery shells to Russia.", NK, RU),
    ("Russia received shells from North Korea.", NK, RU),
    ("North Korea's exports of weapons to Russia rose sharply.", NK, RU),
    ("North Korea supplied Russia with rockets.", NK, RU),
    ("Shells were sent to Russia by North Korea.", NK, RU),
    ("Russian imports of North Korean shells grew.", NK, RU),
    ("Pyongyang is paid in wheat by Moscow.", RU, NK),
    ("North Korean workers are sent to Russia.", NK, RU),
    ("Kim Jong Un visited Russia in September.", NK, RU),
    ("A North Korean soldier defected to South Korea.", NK, SK),
    ("A South Korean man defected to communist North Korea.", SK, NK),
    ("Coal was shipped from Rason to Vladivostok.", NK, RU),
    ("Pyongyang loaded trains bound for Russia.", NK, RU),
    ("Pyongyang loaded Russia-bound trains.", NK, RU),
    ("Seoul's spy agency said Pyongyang had sent missiles to Moscow.", NK, RU),
]


@pytest.mark.parametrize(("text", "source", "target"), DIRECTIONS)
def test_direction(extractor: Extractor, text: str, source: str, target: str) -> None:
    assert run(extractor, text).direction == Direction(source=source, target=target)


def test_implicit_sender_comes_from_the_previous_sentence(extractor: Extractor) -> None:
    text = "North Korea has trained thousands of workers. They were sent to Russia last week."
    start = text.index("They")
    got = extractor.extract(text, start, len(text), "labor_dispatch")
    assert got.direction == Direction(source=NK, target=RU)
    assert got.actors == [NK, RU]


def test_one_sided_direction(extractor: Extractor) -> None:
    got = run(extractor, "Artillery shells are being shipped to Russia.")
    assert got.direction == Direction(source=None, target=RU)


def test_according_to_is_not_a_destination(extractor: Extractor) -> None:
    got = run(extractor, "North Korea sold the shells, according to Japanese officials.")
    assert got.direction == Direction(source=NK, target=None)


@pytest.mark.parametrize(
    ("text", "event_type"),
    [
        ("North Korea and Russia signed a treaty.", "diplomatic_engagement"),
        ("North Korea fired a missile toward Japan.", "weapons_test"),
        ("The shells were old.", "arms_transfer"),
    ],
)
def test_no_direction(extractor: Extractor, text: str, event_type: str) -> None:
    assert run(extractor, text, event_type).direction is None


TIMES = [
    ("Workers leave at the end of this month.", "at the end of this month"),
    ("Trade rose last month.", "last month"),
    ("The train left on Wednesday.", "on Wednesday"),
    ("Talks are due in October.", "in October"),
    ("Shipments have grown since mid-2022.", "since mid-2022"),
    ("Earlier this year the border reopened.", "Earlier this year"),
    ("It was signed on October 12, 2023 in Moscow.", "on October 12, 2023"),
    ("Workers arrived in late November 2024.", "in late November 2024"),
    ("The bridge opened two weeks ago.", "two weeks ago"),
    ("Traffic has risen in recent weeks.", "in recent weeks"),
    ("The delegation arrived yesterday.", "yesterday"),
    ("Output doubled in the past two months.", "in the past two months"),
    ("The plant should open by 2026.", "by 2026"),
    ("It began on Wednesday, October 11, at dawn.", "on Wednesday, October 11"),
    ("Last spring trains resumed.", "Last spring"),
]


@pytest.mark.parametrize(("text", "expected"), TIMES)
def test_time_text(extractor: Extractor, text: str, expected: str) -> None:
    assert run(extractor, text).time_text == expected


@pytest.mark.parametrize(
    "text",
    [
        "Officials may meet soon.",
        "The 2023 figures were revised.",
        "The march lasted long.",
        "He has worked there for years.",
    ],
)
def test_no_time_text(extractor: Extractor, text: str) -> None:
    assert run(extractor, text).time_text is None


def test_event_time_preferred_over_reporting_time(extractor: Extractor) -> None:
    text = "A source told Daily NK on Wednesday that workers will leave at the end of October."
    assert run(extractor, text).time_text == "at the end of October"


def test_reporting_time_when_nothing_else(extractor: Extractor) -> None:
    text = "Trains are running daily, a source told Daily NK on Wednesday."
    assert run(extractor, text).time_text == "on Wednesday"


ATTRIBUTIONS = [
    ("Trains run daily, according to a source.", "according to a source"),
    ("A source told Daily NK that trains run daily.", "A source told Daily NK"),
    ("Trains run daily, state media said.", "state media said"),
    ("KCNA reported that the launch succeeded.", "KCNA reported"),
    ("Seoul's spy agency said troops had left.", "Seoul's spy agency said"),
    ("Troops left, citing intelligence.", "citing intelligence"),
    ("Troops left, citing intelligence from Kyiv.", "citing intelligence from Kyiv"),
    ("Troops have left, said the source.", "said the source"),
    (
        "A source in North Korea told Daily NK on Wednesday that trade grew.",
        "A source in North Korea told Daily NK",
    ),
    (
        "Another anonymous source inside the country told Daily NK about it.",
        "Another anonymous source inside the country told Daily NK",
    ),
    ("One of the anonymous sources said exports grew.", "One of the anonymous sources said"),
    (
        "South Korea\u2019s National Intelligence Service said troops were deployed.",
        "South Korea\u2019s National Intelligence Service said",
    ),
    (
        "Troops were deployed, according to Ukrainian and American officials.",
        "according to Ukrainian and American officials",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ATTRIBUTIONS)
def test_attribution(extractor: Extractor, text: str, expected: str) -> None:
    assert run(extractor, text).attribution == expected


@pytest.mark.parametrize(
    "text",
    ["He said nothing about trains.", "Exports said to be rising slowed.", "Trains ran daily."],
)
def test_no_attribution(extractor: Extractor, text: str) -> None:
    assert run(extractor, text).attribution is None


def test_attribution_closing_the_sentence_beyond_the_passage(extractor: Extractor) -> None:
    text = "Shells were shipped to Russia by rail, the source said. Trains ran daily."
    end = text.index(" by rail")
    assert extractor.extract(text, 0, end, "arms_transfer").attribution == "the source said"
