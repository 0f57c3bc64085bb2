"""Split an article into passages that fit the encoder, keeping exact character offsets.

Body passages carry ``start``/``end`` offsets into the article text, so that ``text[p.start:p.end]
== p.text`` always holds. The title is not part of the article text: it becomes one passage with
``in_title=True`` and the empty span ``start == end == 0``; the classifier only reports a title
detection when no body passage supports the same type.

Sentences end at ``.!?…`` (plus closing quotes or brackets) before whitespace and an upper-case or
non-Latin start, at CJK full stops, and at every line break (feeds put one paragraph per line).
Abbreviations ("Gen.", "U.S.", "Aug.", initials) do not end a sentence. Consecutive sentences are
grouped into windows of at most ``max_sentences`` sentences / ``max_words`` words that share
``overlap`` sentences with the next window, and (``single_sentences``) each sentence is also a
passage of its own, so that an event sentence next to an unrelated one is not diluted in the mean
embedding; a single sentence longer than a window is cut into overlapping word windows. Work stops
after ``max_passages`` windows, so a 1 MB text costs no more than its first few hundred sentences.
Spans with too few letters (markup, binary garbage) are dropped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Passage", "PassageConfig", "sentence_spans", "split_passages"]


@dataclass(frozen=True)
class PassageConfig:
    max_sentences: int = 2  # short windows: one topic each, so the mean embedding is not diluted
    max_words: int = 80
    max_chars: int = 1000  # ~256 word pieces of English; longer windows would be truncated
    overlap: int = 1  # sentences shared by neighbouring windows
    single_sentences: bool = (
        True  # also each sentence alone: an event is not drowned by its neighbour
    )
    word_overlap: int = 20  # words shared by the windows of one over-long sentence
    max_passages: int = 128  # per document, title included
    min_letters: int = 6


@dataclass(frozen=True)
class Passage:
    text: str
    start: int
    end: int
    in_title: bool = False


Span = tuple[int, int]

_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "cmdr",
        "adm",
        "sgt",
        "cpl",
        "pvt",
        "sen",
        "rep",
        "gov",
        "pres",
        "amb",
        "st",
        "mt",
        "ft",
        "jr",
        "sr",
        "inc",
        "corp",
        "co",
        "ltd",
        "bros",
        "no",
        "nos",
        "vol",
        "fig",
        "approx",
        "est",
        "dept",
        "univ",
        "vs",
        "etc",
        "al",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    }
)
_LINE = re.compile(r"[^\r\n]+")
_CANDIDATE = re.compile(r"(?:[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？]+[」』”’）]*)")
_NEXT = re.compile(r"\s*(\S)")
_WORD = re.compile(r"\S+")
_LAST_TOKEN = re.compile(r"(\S+)$")
_DOTTED = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?$")


def _is_abbreviation(line: str, dot: int) -> bool:
    """Whether the period at ``line[dot]`` closes an abbreviation rather than a sentence."""
    match = _LAST_TOKEN.search(line[max(0, dot - 40) : dot])  # bounded: no O(n^2) on long lines
    if match is None:
        return False
    token = match.group(1).lstrip("\"'“‘([")
    if _DOTTED.match(token + ".") or (len(token) == 1 and token.isalpha()):
        return True  # "U.S.", "e.g.", initials such as "J."
    return token.lower() in _ABBREVIATIONS


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    punct = match.group(0)
    if punct[0] in "。！？":
        return True
    following = _NEXT.match(line, match.end())
    if following is None:
        return True
    if following.group(1).islower():
        return False  # "approx. five": a lower-case word continues the sentence
    single_period = punct.rstrip("\"'”’»)]") == "."
    return not (single_period and _is_abbreviation(line, match.start()))


def _line_sentences(line: str, offset: int, limit: int) -> Iterator[Span]:
    start = 0
    for match in _CANDIDATE.finditer(line):
        # Past ``limit`` any candidate ends the sentence: it is cut into word windows anyway,
        # and pathological input ("Mr. Mr. Mr. ...") must not be scanned to its end.
        if match.end() - start >= limit or _ends_sentence(line, match):
            yield from _stripped(line, start, match.end(), offset)
            start = match.end()
    yield from _stripped(line, start, len(line), offset)


def _stripped(line: str, start: int, end: int, offset: int) -> Iterator[Span]:
    piece = line[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    if right > left:
        yield offset + start + left, offset + start + right


def sentence_spans(text: str, limit: int = 1000) -> Iterator[Span]:
    """Lazily yield ``(start, end)`` of each sentence of ``text``, whitespace trimmed.

    A sentence runs past ``limit`` characters only where no punctuation allows a cut.
    """
    for line in _LINE.finditer(text):
        yield from _line_sentences(line.group(0), line.start(), limit)


def _long_sentence_windows(text: str, span: Span, cfg: PassageConfig) -> Iterator[Span]:
    """Overlapping word windows over one sentence that is too long for a passage."""
    words = (m.span() for m in _WORD.finditer(text, span[0], span[1]))
    pieces = itertools.chain.from_iterable(_chunk_word(w, cfg.max_chars) for w in words)
    window: list[Span] = []
    fresh = 0  # pieces not yet part of an emitted window
    stride = max(1, cfg.max_words - cfg.word_overlap)
    for piece in pieces:
        if window and piece[1] - window[0][0] > cfg.max_chars:
            yield window[0][0], window[-1][1]
            window, fresh = _slide(window, stride, piece, cfg.max_chars), 0
        window.append(piece)
        fresh += 1
        if len(window) == cfg.max_words:
            yield window[0][0], window[-1][1]
            window, fresh = window[stride:], 0
    if window and fresh:
        yield window[0][0], window[-1][1]


def _slide(window: list[Span], stride: int, piece: Span, max_chars: int) -> list[Span]:
    """The overlap carried into the next window, trimmed so that ``piece`` still fits."""
    kept = window[stride:]
    while kept and piece[1] - kept[0][0] > max_chars:
        kept = kept[1:]
    return kept


def _chunk_word(word: Span, size: int) -> Iterator[Span]:
    for start in range(word[0], word[1], size):
        yield start, min(start + size, word[1])


def _too_long(text: str, span: Span, cfg: PassageConfig) -> bool:
    if span[1] - span[0] > cfg.max_chars:
        return True
    return _word_count(text, span) > cfg.max_words


def _word_count(text: str, span: Span) -> int:
    return sum(1 for _ in _WORD.finditer(text, span[0], span[1]))


def _windows(text: str, cfg: PassageConfig) -> Iterator[Span]:
    """Group sentences into overlapping windows; over-long sentences become word windows."""
    pending: list[tuple[Span, int]] = []  # sentences of the window being built, with word counts
    for span in sentence_spans(text, cfg.max_chars):
        if _too_long(text, span, cfg):
            if pending:
                yield pending[0][0][0], pending[-1][0][1]
                pending = []
            yield from _long_sentence_windows(text, span, cfg)
            continue
        words = _word_count(text, span)
        if cfg.single_sentences:
            yield span
        if pending and (
            len(pending) == cfg.max_sentences or sum(w for _, w in pending) + words > cfg.max_words
        ):
            yield pending[0][0][0], pending[-1][0][1]
            pending = _carry_over(pending, words, cfg)
        pending.append((span, words))
    if pending:
        yield pending[0][0][0], pending[-1][0][1]


def _carry_over(
    pending: list[tuple[Span, int]], words: int, cfg: PassageConfig
) -> list[tuple[Span, int]]:
    """The tail of a finished window that the next one repeats, if it leaves room."""
    keep = pending[len(pending) - cfg.overlap :] if 0 < cfg.overlap < len(pending) else []
    while keep and sum(w for _, w in keep) + words > cfg.max_words:
        keep = keep[1:]
    return keep


def _has_letters(text: str, cfg: PassageConfig) -> bool:
    letters = sum(1 for ch in text if ch.isalpha())
    return letters >= cfg.min_letters and letters >= 0.3 * len(text)


def split_passages(
    text: str, title: str = "", config: PassageConfig | None = None
) -> list[Passage]:
    """Passages of an article: the title (if any) first, then body windows in text order."""
    cfg = config or PassageConfig()
    out: list[Passage] = []
    heading = " ".join(title.split())[: cfg.max_chars]
    if heading and _has_letters(heading, cfg):
        out.append(Passage(heading, 0, 0, in_title=True))
    seen: set[Span] = set()
    # Bounded look-ahead: garbage windows are dropped, but never scanned without limit.
    for start, end in itertools.islice(_windows(text, cfg), 4 * cfg.max_passages):
        if len(out) >= cfg.max_passages:
            break
        if (start, end) in seen:  # a one-sentence window repeats its sentence
            continue
        seen.add((start, end))
        piece = text[start:end]
        if _has_letters(piece, cfg):
            out.append(Passage(piece, start, end))
    return sorted(out, key=lambda p: (not p.in_title, p.start, p.end))
