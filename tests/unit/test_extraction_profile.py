"""The default profile's gazetteer, lexicons and extraction rules are consistent data."""

from __future__ import annotations

from collections import Counter

import pytest

from models.extraction.rules import parse_rules
from tumen.profile import Profile, load_profile


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile()


def _folded(names: list[str]) -> list[str]:
    return [" ".join(n.replace("-", " ").casefold().split()) for n in names]


def test_extraction_rules_validate(profile: Profile) -> None:
    rules = parse_rules(profile.extraction)
    assert rules.quantities.units and rules.time.months and rules.attribution.leads
    assert rules.direction.send_verbs and rules.direction.receive_verbs


@pytest.mark.parametrize(
    ("actor", "aliases"),
    [
        (
            "North Korea",
            ["Pyongyang", "Kim Jong Un", "KPA", "Korean People's Army", "DPRK", "North Korean"],
        ),
        ("North Korea", ["the North", "Rodong Sinmun", "KCNA"]),
        ("Russia", ["Kremlin", "Putin", "Moscow", "Russian", "Shoigu", "Lavrov", "Belousov"]),
        ("Russia", ["Rosatom"]),
        ("China", ["Beijing", "Chinese"]),
        ("South Korea", ["Seoul", "South Korean"]),
        ("Ukraine", ["Kyiv", "Ukrainian"]),
        ("Iran", ["Tehran"]),
        ("United States", ["US", "Washington"]),
        ("Japan", ["Tokyo"]),
        ("Belarus", ["Minsk"]),
        ("Syria", ["Damascus"]),
        ("Mongolia", ["Ulaanbaatar"]),
        ("United Nations", ["UN", "UN Security Council"]),
    ],
)
def test_actor_has_aliases(profile: Profile, actor: str, aliases: list[str]) -> None:
    spec = next(a for a in profile.actors if a.name == actor)
    assert set(aliases) <= set(spec.aliases)


def test_no_alias_names_two_actors(profile: Profile) -> None:
    counts = Counter(alias for a in profile.actors for alias in set(_folded([a.name, *a.aliases])))
    assert [alias for alias, n in counts.items() if n > 1] == []


def test_organisations_are_marked(profile: Profile) -> None:
    kinds = {a.name: a.kind for a in profile.actors}
    assert kinds["United Nations"] == "organisation" and kinds["Russia"] == "state"


REQUIRED_PLACES = [
    "Rason",
    "Sonbong",
    "Rajin",
    "Tumangang",
    "Khasan",
    "Korea-Russia Friendship Bridge",
    "Vladivostok",
    "Vostochny Port",
    "Vostochny Cosmodrome",
    "Nakhodka",
    "Kursk",
    "Donetsk",
    "Dandong",
    "Sinuiju",
    "Nampo",
    "Chongjin",
    "Hunchun",
    "Pyongyang",
    "Moscow",
    "Khabarovsk",
    "Ussuriysk",
    "Punggye-ri",
    "Sohae",
    "Amur region",
    "Primorye",
    "Sakhalin",
    "Beijing",
    "Seoul",
    "Kyiv",
    "Belgorod",
    "Kharkiv",
]


def test_required_places_exist(profile: Profile) -> None:
    names = {p.name for p in profile.places}
    assert [p for p in REQUIRED_PLACES if p not in names] == []


def test_coordinates_have_two_or_three_decimals(profile: Profile) -> None:
    for place in profile.places:
        for value in (place.lat, place.lon):
            assert round(value, 3) == value, place.name


def test_places_lie_in_the_region_of_their_country(profile: Profile) -> None:
    boxes = {  # rough lat/lon boxes: catches swapped or mistyped coordinates
        "North Korea": (37.5, 43.1, 124.0, 131.0),
        "South Korea": (33.0, 38.7, 124.5, 131.0),
        "China": (18.0, 54.0, 73.0, 135.0),
        "Russia": (41.0, 82.0, 19.0, 180.0),
        "Ukraine": (44.0, 52.5, 22.0, 40.5),
    }
    for place in profile.places:
        if place.country in boxes:
            lat_lo, lat_hi, lon_lo, lon_hi = boxes[place.country]
            assert lat_lo <= place.lat <= lat_hi and lon_lo <= place.lon <= lon_hi, place.name


def test_place_countries_are_actors(profile: Profile) -> None:
    actors = {a.name for a in profile.actors}
    assert {p.country for p in profile.places} - actors == {None}


def test_no_alias_names_two_places(profile: Profile) -> None:
    counts = Counter(alias for p in profile.places for alias in set(_folded([p.name, *p.aliases])))
    assert [alias for alias, n in counts.items() if n > 1] == []


def test_ambiguous_names_are_not_plain_aliases(profile: Profile) -> None:
    rules = parse_rules(profile.extraction)
    plain = set(_folded([n for p in profile.places for n in (p.name, *p.aliases)]))
    assert {a.alias.casefold() for a in rules.places.ambiguous} & plain == set()


@pytest.mark.parametrize(
    ("lexicon", "items"),
    [
        (
            "weapons",
            [
                "artillery shells",
                "rockets",
                "ammunition",
                "ballistic missiles",
                "KN-23 missiles",
                "KN-24 missiles",
                "multiple rocket launchers",
                "Koksan guns",
                "rifles",
                "drones",
                "air-defence systems",
                "fighter jets",
                "anti-tank missiles",
            ],
        ),
        (
            "goods",
            [
                "wheat",
                "flour",
                "oil",
                "gas",
                "coal",
                "lumber",
                "fertiliser",
                "seafood",
                "cars",
                "textiles",
                "iron ore",
            ],
        ),
    ],
)
def test_lexicon_has_items(profile: Profile, lexicon: str, items: list[str]) -> None:
    names = {e.name for e in profile.lexicons[lexicon]}
    assert set(items) <= names


def test_no_alias_names_two_items(profile: Profile) -> None:
    counts = Counter(
        alias
        for entries in profile.lexicons.values()
        for e in entries
        for alias in set(_folded([e.name, *e.aliases]))
    )
    assert [alias for alias, n in counts.items() if n > 1] == []
