"""Extraction on a whole report: a paraphrase-style story written for this test.

The story follows the shape of a typical Korea-watch report (arms by rail to Russia, workers
dispatched, payment in goods) in its own words. Each sentence is a passage, as the classifier
would hand it over, and the expected fields are spelled out per passage.
"""

from __future__ import annotations

import re

import pytest

from models.extraction import Extracted, Extractor
from tumen.profile import load_profile
from tumen.schemas import Direction, Event, Quantity, encode

REPORT = (
    "Pyongyang has stepped up its deliveries of munitions to Moscow since the summer, a trader in "
    "Rason told Border Weekly on Monday. "
    "Artillery shells, rockets and rifles from army depots are being shipped to Russia, the "
    "trader said. "
    "Four or more freight trains a day now leave for Russia through the Rason/Sonbong rail link, "
    "according to a source. "
    "North Korea also plans to dispatch several hundred workers to Russia at the end of the "
    "month. "
    "They will travel in groups of about 30 people and will work on building sites. "
    "In return, Russia pays Pyongyang in wheat, oil and gas rather than cash. "
    "Among the goods received from Russia was lumber cut into 500mm x 500mm beams."
)
NK, RU = "North Korea", "Russia"


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor.from_profile(load_profile())


def sentence(n: int) -> tuple[int, int]:
    """Offsets of the n-th sentence of REPORT."""
    spans = [m.span() for m in re.finditer(r"[^.]+\.", REPORT)]
    start, end = spans[n]
    return start + (REPORT[start] == " "), end


def passage(extractor: Extractor, n: int, event_type: str = "arms_transfer") -> Extracted:
    start, end = sentence(n)
    return extractor.extract(REPORT, start, end, event_type)


def test_arms_deliveries_with_attribution_and_time(extractor: Extractor) -> None:
    got = passage(extractor, 0)
    assert got.actors == [NK, RU]
    assert got.direction == Direction(source=NK, target=RU)
    assert got.items == ["ammunition"]
    assert [loc.name for loc in got.locations] == ["Pyongyang", "Moscow", "Rason"]
    assert got.time_text == "since the summer"
    assert got.attribution == "a trader in Rason told Border Weekly"
    assert got.quantities == []


def test_shipment_with_implicit_sender_from_the_previous_sentence(extractor: Extractor) -> None:
    got = passage(extractor, 1)
    assert got.items == ["artillery shells", "rockets", "rifles"]
    assert got.direction == Direction(source=NK, target=RU)
    assert got.actors == [NK, RU]  # the sender joins the actors although the passage omits it
    assert got.attribution == "the trader said"


def test_trains_a_day_through_the_rail_link(extractor: Extractor) -> None:
    got = passage(extractor, 2, "trade_logistics")
    assert got.quantities == [
        Quantity(
            text="Four or more freight trains a day",
            value=4,
            unit="trains",
            approximate=True,
            min=4,
        )
    ]
    rason, sonbong = got.locations
    assert (rason.name, sonbong.name) == ("Rason", "Sonbong")
    assert rason.country == sonbong.country == NK
    assert rason.lat == pytest.approx(42.35, abs=0.1)
    assert sonbong.lon == pytest.approx(130.4, abs=0.1)
    assert got.direction == Direction(source=NK, target=RU)
    assert got.attribution == "according to a source"


def test_worker_dispatch_at_the_end_of_the_month(extractor: Extractor) -> None:
    got = passage(extractor, 3, "labor_dispatch")
    assert got.actors == [NK, RU]
    assert got.direction == Direction(source=NK, target=RU)
    (workers,) = got.quantities
    assert (workers.text, workers.unit, workers.approximate) == (
        "several hundred workers",
        "workers",
        True,
    )
    assert (workers.min, workers.value, workers.max) == (200, 300, 900)
    assert got.time_text == "at the end of the month"


def test_groups_of_about_thirty(extractor: Extractor) -> None:
    got = passage(extractor, 4, "labor_dispatch")
    assert got.quantities == [
        Quantity(text="about 30 people", value=30, unit="people", approximate=True)
    ]
    assert got.actors == [] and got.direction is None


def test_payment_in_goods(extractor: Extractor) -> None:
    got = passage(extractor, 5, "trade_logistics")
    assert got.items == ["wheat", "oil", "gas"]
    assert got.direction == Direction(source=RU, target=NK)
    assert got.actors == [RU, NK]


def test_lumber_dimensions_and_receiver_from_context(extractor: Extractor) -> None:
    got = passage(extractor, 6, "trade_logistics")
    assert got.items == ["lumber"]
    assert got.quantities == [
        Quantity(text="500mm x 500mm", value=500, unit="mm", min=500, max=500)
    ]
    assert got.direction == Direction(source=RU, target=NK)


def test_whole_report_as_one_passage(extractor: Extractor) -> None:
    got = extractor.extract(REPORT, 0, len(REPORT), "arms_transfer")
    assert got.actors == [NK, RU]
    assert got.items == [
        "ammunition",
        "artillery shells",
        "rockets",
        "rifles",
        "wheat",
        "oil",
        "gas",
        "lumber",
    ]
    assert [q.unit for q in got.quantities] == ["trains", "workers", "people", "mm"]
    assert [loc.name for loc in got.locations] == ["Pyongyang", "Moscow", "Rason", "Sonbong"]
    assert got.direction == Direction(source=NK, target=RU)


def test_fields_build_a_valid_event(extractor: Extractor) -> None:
    start, end = sentence(3)
    fields = extractor.extract(REPORT, start, end, "labor_dispatch").as_event_fields()
    assert set(fields) <= set(Event.model_fields)
    event = Event(
        type="labor_dispatch",
        confidence=0.9,
        evidence=REPORT[start:end],
        start=start,
        end=end,
        **fields,
    )
    wire = encode(event).decode()
    assert '"direction":{"from":"North Korea","to":"Russia"}' in wire
    assert '"time_text":"at the end of the month"' in wire


def test_as_event_fields_returns_fresh_lists(extractor: Extractor) -> None:
    got = passage(extractor, 0)
    fields = got.as_event_fields()
    fields["actors"].append("Mars")
    assert got.actors == [NK, RU]


def test_extraction_is_deterministic(extractor: Extractor) -> None:
    assert passage(extractor, 2) == passage(extractor, 2)
