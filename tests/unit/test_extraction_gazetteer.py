"""Actors and places: alias resolution, false friends, anaphora, ambiguous place names."""

from __future__ import annotations

import pytest

from models.extraction import Extracted, Extractor
from tumen.profile import load_profile


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor.from_profile(load_profile())


def run(extractor: Extractor, text: str, event_type: str = "diplomatic_engagement") -> Extracted:
    return extractor.extract(text, 0, len(text), event_type)


ALIASES = [
    ("DPRK", "North Korea"),
    ("D.P.R.K.", "North Korea"),
    ("Pyongyang", "North Korea"),
    ("Kim Jong Un", "North Korea"),
    ("Kim Jong-un", "North Korea"),
    ("KPA", "North Korea"),
    ("Korean People's Army", "North Korea"),
    ("Korean People\u2019s Army", "North Korea"),
    ("North Korean", "North Korea"),
    ("North Koreans", "North Korea"),
    ("Rodong Sinmun", "North Korea"),
    ("KCNA", "North Korea"),
    ("Kremlin", "Russia"),
    ("Putin", "Russia"),
    ("Moscow", "Russia"),
    ("Russian", "Russia"),
    ("Shoigu", "Russia"),
    ("Lavrov", "Russia"),
    ("Belousov", "Russia"),
    ("Rosatom", "Russia"),
    ("Beijing", "China"),
    ("Xi Jinping", "China"),
    ("Seoul", "South Korea"),
    ("ROK", "South Korea"),
    ("Kyiv", "Ukraine"),
    ("Zelensky", "Ukraine"),
    ("Tehran", "Iran"),
    ("U.S.", "United States"),
    ("Washington", "United States"),
    ("Tokyo", "Japan"),
    ("Minsk", "Belarus"),
    ("Damascus", "Syria"),
    ("Ulaanbaatar", "Mongolia"),
    ("UN Security Council", "United Nations"),
    ("IAEA", "IAEA"),
]


@pytest.mark.parametrize(("alias", "actor"), ALIASES)
def test_alias_resolves_to_actor(extractor: Extractor, alias: str, actor: str) -> None:
    assert run(extractor, f"Officials in {alias} were quoted on the matter.").actors == [actor]


def test_actors_in_order_of_appearance_without_duplicates(extractor: Extractor) -> None:
    text = "Putin met Kim Jong Un; the Kremlin and Pyongyang, then Beijing, praised Moscow."
    assert run(extractor, text).actors == ["Russia", "North Korea", "China"]


def test_the_north_stands_for_north_korea(extractor: Extractor) -> None:
    assert run(extractor, "Analysts said the North would reply.").actors == ["North Korea"]
    assert run(extractor, "The North's envoy left.").actors == ["North Korea"]


@pytest.mark.parametrize(
    "text",
    [
        "They played Russian roulette with the budget.",
        "A White Russian was served at the bar.",
        "Ships crossed the North Atlantic.",
        "Rain fell in the north of the country.",
        "Tensions rose in the South China Sea.",
        "He told us the plan.",
        "Kim said the plan was sound.",
        "Korean cuisine is popular.",
        "It was a trump card.",
        "Fine china was sold at auction.",
        "Daily NK and NK News published the story.",
        "The train left Xi'an at noon.",
        "A think tank studied arms control.",
    ],
)
def test_no_false_actor(extractor: Extractor, text: str) -> None:
    got = run(extractor, text)
    assert got.actors == []
    assert got.items == []


def test_lowercase_north_korea_born_still_names_the_country(extractor: Extractor) -> None:
    # Decision: a miscapitalised "north Korea-born" still refers to the country.
    assert run(extractor, "A north Korea-born engineer spoke.").actors == ["North Korea"]


def test_made_in_compounds_name_the_country(extractor: Extractor) -> None:
    got = run(extractor, "Russian-made jets and Iranian-designed drones were seen.")
    assert got.actors == ["Russia", "Iran"]
    assert got.items == ["fighter jets", "drones"]


def test_acronyms_are_case_sensitive(extractor: Extractor) -> None:
    assert run(extractor, "The un-named kpa unit told us.").actors == []
    assert run(extractor, "The KPA unit told the UN.").actors == ["North Korea", "United Nations"]


def test_the_country_resolves_to_the_previous_subject(extractor: Extractor) -> None:
    text = (
        "A source in North Korea said trade with Russia was booming. "
        "Another source inside the country confirmed the shipments."
    )
    start = text.index("Another")
    got = extractor.extract(text, start, len(text), "trade_logistics")
    assert got.actors == ["North Korea"]


def test_the_two_countries_resolves_to_a_pair(extractor: Extractor) -> None:
    text = "Kim Jong Un met Putin in Vladivostok. Trade between the two countries has grown."
    start = text.index("Trade")
    got = extractor.extract(text, start, len(text), "trade_logistics")
    assert got.actors == ["North Korea", "Russia"]


def test_context_is_not_read_beyond_its_reach(extractor: Extractor) -> None:
    text = "Kim Jong Un left. It rained. It was cold. It was late. Then the country slept."
    start = text.index("Then")
    assert extractor.extract(text, start, len(text), "border_security").actors == []


def test_places_carry_coordinates_and_country(extractor: Extractor) -> None:
    got = run(extractor, "Goods moved from Najin to Vladivostok via Khasan and Tumangang.")
    names = [loc.name for loc in got.locations]
    assert names == ["Rajin", "Vladivostok", "Khasan", "Tumangang"]
    rajin = got.locations[0]
    assert rajin.country == "North Korea"
    assert rajin.lat == pytest.approx(42.25, abs=0.05)
    assert rajin.lon == pytest.approx(130.30, abs=0.05)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("The Rajin-Sonbong zone grew.", "Rason"),
        ("Fighting went on in the Kursk region.", "Kursk region"),
        ("Drones struck Kursk overnight.", "Kursk"),
        ("Coal went through Primorsky Krai.", "Primorye"),
        ("A new road bridge over the Tumen River was planned.", "Tumen River"),
        ("Sinuiju and Dandong face each other.", "Sinuiju"),
        ("A test was expected at Punggye-ri.", "Punggye-ri"),
        ("The launch was from Tongchang-ri.", "Sohae"),
    ],
)
def test_place_aliases(extractor: Extractor, text: str, place: str) -> None:
    assert run(extractor, text).locations[0].name == place


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (
            "Kim toured Vostochny before the summit, watching a rocket launch.",
            "Vostochny Cosmodrome",
        ),
        ("Coal ships docked at Vostochny, the port near Nakhodka.", "Vostochny Port"),
        (
            "Trains crossed the Friendship Bridge from Tumangang to Khasan.",
            "Korea-Russia Friendship Bridge",
        ),
        (
            "Trucks crossed the Friendship Bridge from Dandong to Sinuiju.",
            "Sino-Korean Friendship Bridge",
        ),
    ],
)
def test_ambiguous_place_resolved_by_cues(extractor: Extractor, text: str, place: str) -> None:
    found = {loc.name: loc for loc in run(extractor, text).locations}
    assert place in found
    assert found[place].lat is not None and found[place].lon is not None


def test_ambiguous_place_without_cues_has_no_coordinates(extractor: Extractor) -> None:
    (loc,) = run(extractor, "The delegation stopped at Vostochny.").locations
    assert (loc.name, loc.lat, loc.lon, loc.country) == ("Vostochny", None, None, "Russia")


def test_places_are_deduplicated(extractor: Extractor) -> None:
    got = run(extractor, "Rason, then Rason City again, then Sonbong.")
    assert [loc.name for loc in got.locations] == ["Rason", "Sonbong"]
