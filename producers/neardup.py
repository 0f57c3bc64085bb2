"""Near-duplicate detection: 128-bit SimHash over the normalised words of title and text.

Wire copy — one story republished by several outlets under different URLs, lightly edited — has
different article ids but nearly the same words. Each article gets a SimHash of its set of
distinct words (NFKC, case-folded, English function words dropped, Chinese/Japanese split into
character bigrams). Two articles are near-duplicates when their fingerprints differ in at most
``floor((1 - near_duplicate_threshold) * 128)`` bits: with the default threshold 0.8 that is 25
of 128. On our fixtures a lightly edited wire story differs in about 10-15 bits, a different story
on the same subject in 40-60 (tests/unit/test_producer_neardup.py pins both sides).

Why 128 bits: two unrelated texts differ in a binomial number of bits. With 64 bits and 12 allowed,
about 1 pair in 4 million collides — 70 false "duplicates" among 25,000 articles, measured by the
benchmark. With 128 bits and 25 allowed it is 1 pair in 10^12. The fingerprint is stored as two
signed BIGINT halves (``feed_items.simhash``, ``feed_items.simhash_hi``).

Two guards keep a distinct story from being swallowed, which would be a silent loss:
- texts with fewer than :data:`MIN_FEATURES` distinct words get no fingerprint (too little text to
  tell a copy from a coincidence) and are only deduplicated by id;
- an article is never a near-duplicate of one from the same feed: a feed's own boilerplate
  (paywall teasers, "The post ... appeared first on ...") would otherwise make its items alike,
  and syndicated copies come from other feeds.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

__all__ = [
    "BITS",
    "MIN_FEATURES",
    "NearDuplicateIndex",
    "join_halves",
    "max_distance",
    "signed_halves",
    "simhash",
]

BITS = 128
MIN_FEATURES = 24
_WORD = re.compile(r"\w+")
_HAN_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had", "has",
     "have", "he", "her", "his", "in", "into", "is", "it", "its", "of", "on", "or", "our", "she",
     "that", "the", "their", "them", "they", "this", "to", "was", "were", "which", "who", "will",
     "with", "would", "said", "says", "also", "after", "before", "than", "then", "there", "these",
     "those", "not", "no"}
)  # fmt: skip
_HALF = 64
_MASK = (1 << _HALF) - 1


def _features(text: str) -> set[str]:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    out: set[str] = set()
    for word in words:
        if word in _STOP:
            continue
        if len(word) > 2 and _HAN_KANA.search(word):
            out.update(word[i : i + 2] for i in range(len(word) - 1))  # no spaces to split on
        elif len(word) > 1:
            out.add(word)
    return out


def simhash(text: str) -> int | None:
    """Unsigned 128-bit SimHash, or None when the text is too short to fingerprint."""
    features = _features(text)
    if len(features) < MIN_FEATURES:
        return None
    digests = b"".join(
        hashlib.blake2b(f.encode(), digest_size=BITS // 8).digest() for f in features
    )
    matrix = np.frombuffer(digests, dtype=np.uint8).reshape(-1, BITS // 8)
    bits = np.unpackbits(matrix, axis=1, bitorder="little")
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(features)
    packed = np.packbits((votes > 0).astype(np.uint8), bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def max_distance(threshold: float) -> int:
    """Most differing bits two near-duplicates may have, for a similarity threshold in (0, 1]."""
    return int((1.0 - threshold) * BITS + 1e-9)


def _signed(value: int) -> int:
    return value - (1 << _HALF) if value >= 1 << (_HALF - 1) else value


def signed_halves(fingerprint: int) -> tuple[int, int]:
    """(low, high) 64-bit halves as signed integers, for two BIGINT columns."""
    return _signed(fingerprint & _MASK), _signed(fingerprint >> _HALF)


def join_halves(low: int, high: int) -> int:
    return ((high & _MASK) << _HALF) | (low & _MASK)


class NearDuplicateIndex:
    """Fingerprints of recent original articles; exhaustive search (XOR + popcount in numpy)."""

    def __init__(self, *, max_distance: int) -> None:
        self._max = max_distance
        self.reset()

    def reset(self) -> None:
        self._low = np.zeros(1024, dtype=np.uint64)
        self._high = np.zeros(1024, dtype=np.uint64)
        self._ids: list[str] = []
        self._feeds: list[int | None] = []
        self._known: set[str] = set()

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def max_distance(self) -> int:
        return self._max

    def add(self, article_id: str, fingerprint: int, feed_id: int | None) -> None:
        if article_id in self._known:
            return
        n = len(self._ids)
        if n == len(self._low):
            grow = np.zeros(n, dtype=np.uint64)
            self._low, self._high = (
                np.concatenate([self._low, grow]),
                np.concatenate([self._high, grow]),
            )
        self._low[n] = np.uint64(fingerprint & _MASK)
        self._high[n] = np.uint64(fingerprint >> _HALF)
        self._ids.append(article_id)
        self._feeds.append(feed_id)
        self._known.add(article_id)

    def find(self, fingerprint: int, feed_id: int) -> str | None:
        """The closest original from another feed within the distance, earliest on ties."""
        n = len(self._ids)
        if not n:
            return None
        distances = np.bitwise_count(self._low[:n] ^ np.uint64(fingerprint & _MASK)).astype(
            np.int32
        ) + np.bitwise_count(self._high[:n] ^ np.uint64(fingerprint >> _HALF))
        best: tuple[int, int] | None = None
        for i in np.flatnonzero(distances <= self._max).tolist():
            if self._feeds[i] != feed_id and (best is None or distances[i] < best[0]):
                best = (int(distances[i]), i)
        return self._ids[best[1]] if best else None
