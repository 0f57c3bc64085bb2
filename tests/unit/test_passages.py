"""Passage splitting: exact offsets, sentence rules, and hostile inputs that must not hurt."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from models.passages import Passage, PassageConfig, sentence_spans, split_passages

ARTICLE = (
    "Gen. Pak Chol met Russian officials in Vladivostok on Aug. 5. The U.S. envoy called the "
    'talks "deeply troubling." About 1,200 workers left for the Far East!\n'
    "A second paragraph starts here. It has approx. five short sentences. Really? Yes.\n\n"
    "Dr. J. Kim of the U.N. panel declined to comment."
)


def _body(passages: list[Passage]) -> list[Passage]:
    return [p for p in passages if not p.in_title]


def _assert_exact(text: str, passages: list[Passage]) -> None:
    for p in _body(passages):
        assert text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text


def test_sentences_respect_abbreviations_quotes_and_lines() -> None:
    sentences = [ARTICLE[s:e] for s, e in sentence_spans(ARTICLE)]
    assert sentences == [
        "Gen. Pak Chol met Russian officials in Vladivostok on Aug. 5.",
        'The U.S. envoy called the talks "deeply troubling."',
        "About 1,200 workers left for the Far East!",
        "A second paragraph starts here.",
        "It has approx. five short sentences.",
        "Really?",
        "Yes.",
        "Dr. J. Kim of the U.N. panel declined to comment.",
    ]


def test_cjk_full_stops_end_sentences() -> None:
    text = "북한은 포탄을 보냈다。러시아는 부인했다。"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "북한은 포탄을 보냈다。",
        "러시아는 부인했다。",
    ]


def test_passages_are_sentences_and_overlapping_pairs_with_exact_offsets() -> None:
    passages = split_passages(ARTICLE)
    _assert_exact(ARTICLE, passages)
    sentences = list(sentence_spans(ARTICLE))
    spans = {(p.start, p.end) for p in passages}
    worded = {(a, b) for a, b in sentences if sum(c.isalpha() for c in ARTICLE[a:b]) >= 6}
    assert worded <= spans  # every sentence with some words, alone
    pairs = {(a[0], b[1]) for a, b in itertools.pairwise(sentences)}
    assert spans - set(sentences) <= pairs  # and windows of two neighbours
    assert len(spans - set(sentences)) >= 5
    assert passages == sorted(passages, key=lambda p: (p.start, p.end))


def test_window_size_is_configurable() -> None:
    cfg = PassageConfig(max_sentences=3, overlap=1, single_sentences=False)
    passages = split_passages(ARTICLE, config=cfg)
    _assert_exact(ARTICLE, passages)
    assert passages[0].text.startswith("Gen. Pak Chol")
    assert passages[0].text.endswith("the Far East!")
    for first, second in itertools.pairwise(passages):
        assert second.start < first.end  # neighbours share a sentence


def test_title_is_its_own_passage_with_an_empty_span() -> None:
    passages = split_passages(ARTICLE, title="  Envoys   meet in Vladivostok ")
    assert passages[0] == Passage("Envoys meet in Vladivostok", 0, 0, in_title=True)
    assert all(not p.in_title for p in passages[1:])


@pytest.mark.parametrize("text", ["", "   \n\n\t ", "...", "<br/><br/>", "12 34 56"])
def test_empty_or_letterless_text_gives_no_passages(text: str) -> None:
    assert split_passages(text) == []


def test_a_very_long_sentence_becomes_overlapping_word_windows() -> None:
    cfg = PassageConfig(max_words=50, word_overlap=10)
    text = " ".join(f"word{i}" for i in range(200)) + "."
    passages = split_passages(text, config=cfg)
    _assert_exact(text, passages)
    assert [len(p.text.split()) for p in passages] == [50, 50, 50, 50, 40]
    assert passages[1].text.split()[0] == "word40"


def test_one_megabyte_is_bounded_and_fast() -> None:
    text = ("North Korea sent shells to Russia by rail. " * 25_000)[:1_000_000]
    began = time.perf_counter()
    passages = split_passages(text)
    assert time.perf_counter() - began < 2.0
    assert len(passages) == PassageConfig().max_passages
    _assert_exact(text, passages)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000,  # one endless word
        "Mr. " * 250_000,  # an abbreviation that never ends a sentence
        "a. " * 300_000,
        "<div class='story'><p>Troops crossed the border.</p></div>\n" * 20_000,
    ],
)
def test_pathological_text_is_bounded(text: str) -> None:
    began = time.perf_counter()
    passages = split_passages(text)
    assert time.perf_counter() - began < 2.0
    assert len(passages) <= PassageConfig().max_passages
    _assert_exact(text, passages)
    assert all(len(p.text) <= PassageConfig().max_chars for p in passages)


def test_binary_garbage_does_not_crash() -> None:
    rng = random.Random(7)
    text = bytes(rng.randrange(256) for _ in range(200_000)).decode("latin-1")
    passages = split_passages(text, title="\x00\x01\x02")
    _assert_exact(text, passages)
    assert len(passages) <= PassageConfig().max_passages


def test_non_english_text_keeps_offsets() -> None:
    text = "Россия получила снаряды. Северная Корея отрицает поставки.\n朝鲜向俄罗斯派遣了工人。"
    passages = split_passages(text)
    _assert_exact(text, passages)
    assert passages
