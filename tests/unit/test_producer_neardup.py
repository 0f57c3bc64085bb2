"""Near-duplicates: a lightly edited wire story is one; a different story on the same subject is
not. The texts are written for this test (threshold 0.8 → at most 25 of 128 bits differ)."""

from __future__ import annotations

from producers.neardup import (
    MIN_FEATURES,
    NearDuplicateIndex,
    join_halves,
    max_distance,
    signed_halves,
    simhash,
)

WIRE = """SEOUL, March 4 (Tumen Wire) - North Korea shipped at least 2,000 containers of artillery
shells and rocket components to Russia by rail over the past two months, according to satellite
imagery reviewed by a research group and two officials familiar with the matter. The freight trains
crossed the Tumen River bridge at Khasan on most nights, the officials said, and the cargo was moved
on to an ammunition depot near Tikhoretsk in southern Russia. Pyongyang and Moscow have denied any
arms trade, which would violate United Nations Security Council resolutions that both countries
voted for. The research group counted more than forty freight trains at the Rajin port terminal in
January alone, a sharp rise from the same period last year. In exchange, North Korea is believed to
have received food, oil and technical help for its satellite programme, the officials said,
speaking on condition of anonymity because they were not authorised to speak to the media. A
spokesman for the South Korean defence ministry declined to comment on the report."""

# The same story as another outlet ran it: new dateline and agency, some words changed, the
# last sentence shortened, one clause dropped.
REWRITE = """SEOUL, March 4 (Other Agency) -- North Korea has shipped at least 2,000 containers of
artillery shells and rocket parts to Russia by rail in the past two months, according to satellite
imagery reviewed by a research group and two officials familiar with the matter. The freight trains
crossed the Tumen River bridge at Khasan on most nights, the officials said, and the cargo was then
moved on to an ammunition depot near Tikhoretsk in southern Russia. Pyongyang and Moscow have denied
any arms trade, which would violate UN Security Council resolutions that both countries voted for.
The group counted more than forty freight trains at the Rajin port terminal in January alone, a
sharp rise from the same period last year. In exchange North Korea is believed to have received
food, oil and technical help for its satellite programme, the officials said. South Korea's defence
ministry declined to comment."""

# A different story about the same two countries, with much of the same vocabulary.
OTHER = """MOSCOW, March 5 (Tumen Wire) - Russia and North Korea signed an agreement on Tuesday to
open a second road bridge across the Tumen River and to double the number of passenger flights
between Moscow and Pyongyang, the Russian foreign ministry said in a statement. The deal was reached
during a visit by a North Korean delegation led by the foreign minister, who met Russian officials
in Moscow for two days of talks on trade, tourism and education. Russian tourists would be allowed
to visit the Wonsan-Kalma beach resort from the summer, the ministry said, and North Korean students
would study at Russian universities under an expanded exchange programme. The two countries have
sharply increased contacts since their leaders signed a mutual defence treaty, and officials in
Seoul and Washington say Pyongyang has supplied Moscow with weapons for its war in Ukraine, which
both deny. The statement did not mention military cooperation or the United Nations sanctions."""

LAUNCH = """SEOUL, March 6 (Tumen Wire) - North Korea fired two short-range ballistic missiles into
the sea off its east coast on Wednesday, South Korea's military said, days after Pyongyang warned of
countermeasures against joint drills by the United States and South Korea. The missiles were
launched from an area near the capital and flew about 600 kilometres before landing outside Japan's
exclusive economic zone, the Joint Chiefs of Staff said. Japan's defence ministry confirmed the
launches. North Korea has tested dozens of missiles in recent years in defiance of United Nations
Security Council resolutions, and officials in Seoul say some of the same types have been sent to
Russia for use in Ukraine. The launch came as the allies began eleven days of exercises."""


def bits(a: str, b: str) -> int:
    ha, hb = simhash(a), simhash(b)
    assert ha is not None and hb is not None
    return (ha ^ hb).bit_count()


def test_threshold_to_bits() -> None:
    assert max_distance(0.8) == 25
    assert max_distance(1.0) == 0
    assert max_distance(0.9) == 12


def test_wire_rewrite_is_near_and_different_stories_are_far() -> None:
    limit = max_distance(0.8)
    assert bits(WIRE, REWRITE) <= limit - 3  # with a margin
    for a, b in ((WIRE, OTHER), (WIRE, LAUNCH), (OTHER, LAUNCH), (REWRITE, OTHER)):
        assert bits(a, b) >= limit + 6


def test_short_texts_get_no_fingerprint() -> None:
    assert simhash("North Korea fires missile") is None
    words = " ".join(f"word{i}" for i in range(MIN_FEATURES))
    assert simhash(words) is not None


def test_fingerprint_is_stable_and_fits_two_bigints() -> None:
    value = simhash(WIRE)
    assert value is not None and value == simhash(WIRE) and value < 1 << 128
    low, high = signed_halves(value)
    assert all(-(1 << 63) <= half < 1 << 63 for half in (low, high))
    assert join_halves(low, high) == value


def test_unrelated_texts_do_not_collide_at_scale() -> None:
    """The reason for 128 bits: among thousands of unrelated articles, no pair comes within the
    threshold (with 64 bits and 12 allowed, about 1 pair in 4 million would)."""
    import random

    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(20_000)]
    index = NearDuplicateIndex(max_distance=max_distance(0.8))
    hits = 0
    for n in range(3000):
        fingerprint = simhash(" ".join(rng.choices(vocabulary, k=80)))
        assert fingerprint is not None
        hits += index.find(fingerprint, feed_id=-1) is not None
        index.add(str(n), fingerprint, n)
    assert hits == 0


def test_index_finds_copies_from_other_feeds_only() -> None:
    index = NearDuplicateIndex(max_distance=max_distance(0.8))
    wire, other = simhash(WIRE), simhash(OTHER)
    assert wire is not None and other is not None
    index.add("wire-id", wire, 1)
    index.add("other-id", other, 1)
    rewrite = simhash(REWRITE)
    assert rewrite is not None
    assert index.find(rewrite, 2) == "wire-id"
    assert index.find(rewrite, 1) is None  # a feed's own items never match each other
    launch = simhash(LAUNCH)
    assert launch is not None and index.find(launch, 2) is None
