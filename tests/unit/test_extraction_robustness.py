"""Extraction never crashes on odd input, stays fast on a megabyte, and validates its profile."""

from __future__ import annotations

import time

import pytest

from models.extraction import Extracted, Extractor
from tumen.errors import ConfigError
from tumen.profile import EventTypeSpec, PlaceSpec, Profile, load_profile


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor.from_profile(load_profile())


def run(extractor: Extractor, text: str) -> Extracted:
    return extractor.extract(text, 0, len(text), "arms_transfer")


def test_empty_text(extractor: Extractor) -> None:
    assert extractor.extract("", 0, 0, "arms_transfer") == Extracted()


def test_blank_passage(extractor: Extractor) -> None:
    text = "North Korea shipped shells to Russia.   \n\n  "
    assert extractor.extract(text, 37, len(text), "arms_transfer") == Extracted()


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 2), (0, 999)])
def test_offsets_outside_the_text_are_a_programming_error(
    extractor: Extractor, start: int, end: int
) -> None:
    with pytest.raises(ValueError, match="not within"):
        extractor.extract("North Korea shipped shells.", start, end, "arms_transfer")


def test_unknown_event_type_still_extracts(extractor: Extractor) -> None:
    got = extractor.extract("North Korea sent rifles to Russia.", 0, 34, "no_such_type")
    assert got.actors == ["North Korea", "Russia"] and got.items == ["rifles"]


def test_html_remnants(extractor: Extractor) -> None:
    text = (
        "<p>North Korea&nbsp;shipped <b>artillery shells</b> to Russia &amp; Belarus</p>"
        '<a href="https://example.org/?id=1,500&x=2">500 rifles</a> <script>var x = 3;</script>'
    )
    got = run(extractor, text)
    assert got.actors == ["North Korea", "Russia", "Belarus"]
    assert got.items == ["artillery shells", "rifles"]
    assert "500 rifles" in [q.text for q in got.quantities]


@pytest.mark.parametrize(
    "text",
    [
        "\ubd81\ud55c\uc740 \ub7ec\uc2dc\uc544\uc5d0 \ud3ec\ud0c4\uc744 \ubcf4\ub0c8\ub2e4.",
        "\u0421\u0435\u0432\u0435\u0440\u043d\u0430\u044f \u041a\u043e\u0440\u0435\u044f "
        "\u043f\u043e\u0441\u0442\u0430\u0432\u0438\u043b\u0430 \u0441\u043d\u0430\u0440\u044f"
        "\u0434\u044b \u0432 2023 \u0433\u043e\u0434\u0443.",
        "\u671d\u9c9c\u5411\u4fc4\u7f57\u65af\u8fd0\u9001\u4e86\uff11\uff12\uff13\u4e07\u53d1"
        "\u70ae\u5f39\u3002",
        "\u0623\u0631\u0633\u0644\u062a \u0661\u0662\u0663 \u0642\u0630\u064a\u0641\u0629",
        "\ufffd\x00\x01 broken \udcff bytes \u200b\u200bzero width",
        "\U0001f680\U0001f1f0\U0001f1f5 emoji only",
    ],
)
def test_non_english_and_garbage_do_not_crash(extractor: Extractor, text: str) -> None:
    got = run(extractor, text)
    assert got.actors == [] and got.items == []


def test_mixed_language_finds_the_english_names(extractor: Extractor) -> None:
    got = run(extractor, "\ubd81\ud55c (North Korea) \u2014 Pyongyang \ud3c9\uc591, 300 workers")
    assert got.actors == ["North Korea"]
    assert [q.text for q in got.quantities] == ["300 workers"]


def test_pathological_repetition(extractor: Extractor) -> None:
    text = "the the the " * 2000 + "1," * 3000 + "North " * 2000 + "- " * 3000
    started = time.perf_counter()
    run(extractor, text)
    assert time.perf_counter() - started < 5


def _megabyte() -> str:
    sentences = [
        "North Korea shipped several hundred containers of shells to Russia last month, a "
        "source in Rason told reporters on Monday.",
        "Some 13,000 containers crossed the Friendship Bridge near Khasan since mid-2022.",
        "Russia paid Pyongyang in wheat, oil and gas, according to the agency.",
        "More than 10,000 troops were deployed to the Kursk region, officials said.",
        "The weather was mild and markets were quiet for most of the week.",
        "Prices of rice and corn rose by 30% in markets near Sinuiju and Dandong.",
    ]
    parts: list[str] = []
    size, n = 0, 0
    while size < 1_000_000:
        sentence = sentences[n % len(sentences)].replace("10,000", f"{10_000 + n:,}")
        parts.append(sentence)
        size += len(sentence) + 1
        n += 1
    return " ".join(parts)[:1_000_000]


def test_one_megabyte_passage_is_fast(extractor: Extractor) -> None:
    text = _megabyte()
    started = time.perf_counter()
    got = run(extractor, text)
    elapsed = time.perf_counter() - started
    assert got.actors[:2] == ["North Korea", "Russia"]
    assert len(got.quantities) > 1000
    assert elapsed < 10, f"1 MB took {elapsed:.1f} s"


def test_small_passage_in_a_megabyte_article_is_fast(extractor: Extractor) -> None:
    text = _megabyte()
    start = len(text) // 2
    started = time.perf_counter()
    for _ in range(100):
        extractor.extract(text, start, start + 300, "arms_transfer")
    assert time.perf_counter() - started < 2  # cost follows the passage, not the article


def test_profile_builds_quickly() -> None:
    profile = load_profile()
    started = time.perf_counter()
    Extractor.from_profile(profile)
    assert time.perf_counter() - started < 3


def _profile(**sections: object) -> Profile:
    return Profile.model_validate(
        {
            "name": "test",
            "event_types": [
                EventTypeSpec(name="arms_transfer", definition="weapons changing hands")
            ],
            **sections,
        }
    )


def test_profile_without_extraction_rules_still_finds_names() -> None:
    profile = _profile(actors=[{"name": "North Korea", "aliases": ["DPRK"]}])
    got = Extractor.from_profile(profile).extract("The DPRK sent 300 rifles.", 0, 25, "x")
    assert got.actors == ["North Korea"]
    assert [q.value for q in got.quantities] == [300]
    assert got.direction is None and got.attribution is None and got.time_text is None


@pytest.mark.parametrize(
    ("extraction", "key"),
    [
        ({"quantities": {"rates": "a day"}}, "extraction.quantities.rates"),
        ({"context": {"preceding_sentences": 99}}, "extraction.context.preceding_sentences"),
        ({"no_such_section": {}}, "extraction.no_such_section"),
        (
            {"quantities": {"vague_multipliers": {"several": {"min": 5, "max": 2, "value": 3}}}},
            "extraction.quantities.vague_multipliers.several",
        ),
    ],
)
def test_invalid_rules_name_the_key(extraction: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Extractor.from_profile(_profile(extraction=extraction))
    assert caught.value.key == key


def test_ambiguous_place_must_name_known_places() -> None:
    places = [PlaceSpec(name="Vostochny Port", lat=42.7, lon=133.1)]
    extraction = {
        "places": {
            "ambiguous": [
                {
                    "alias": "Vostochny",
                    "options": [
                        {"place": "Vostochny Port", "cues": ["port"]},
                        {"place": "Nowhere", "cues": ["space"]},
                    ],
                }
            ]
        }
    }
    with pytest.raises(ConfigError, match="Nowhere"):
        Extractor.from_profile(_profile(places=places, extraction=extraction))


def test_lexicon_filter_must_name_known_lexicons() -> None:
    extraction = {"items": {"lexicons_by_event_type": {"arms_transfer": ["spaceships"]}}}
    with pytest.raises(ConfigError, match="spaceships"):
        Extractor.from_profile(_profile(extraction=extraction))


def test_extracted_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Extracted().time_text = "now"  # type: ignore[misc]
