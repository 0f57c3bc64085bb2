"""HTML to text, caps and language tags; content-encoding decoding with its cap."""

from __future__ import annotations

import gzip
import zlib

import pytest

from producers.compression import BoundedDecoder
from producers.errors import FetchError
from producers.text import clip, html_to_text, normalise_language
from tests.support.feedserver import gzip_bomb


def test_html_to_text_drops_markup_scripts_and_decodes_entities() -> None:
    html = (
        "<div><h1>Title</h1><script>var x = '<p>not text</p>';</script><p>One &amp; two"
        "&nbsp;three</p><style>p {}</style><ul><li>a</li><li>b</li></ul><img src=x alt=y>"
        "<iframe src='https://evil.example'>frame text</iframe>&lt;tag&gt;</div>"
    )
    assert html_to_text(html, limit=1000) == "Title\nOne & two three\na\nb\n<tag>"


def test_plain_text_and_broken_markup() -> None:
    assert html_to_text("  just   text\n\n\nmore ", limit=100) == "just text\nmore"
    assert html_to_text("<p>unclosed <b>bold", limit=100) == "unclosed bold"
    assert html_to_text("a < b and c > d", limit=100) == "a < b and c > d"


def test_caps_cut_at_a_space() -> None:
    assert clip("alpha beta gamma", 12) == "alpha beta"
    assert len(html_to_text("<p>" + "x " * 100_000 + "</p>", limit=5_000)) <= 5_000


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("en-US", "en-us"),
        ("ru_RU", "ru-ru"),
        ("ko", "ko"),
        ("", None),
        ("not a tag", None),
        (None, None),
        ("x" * 50, None),
    ],
)
def test_language_tags(raw: object, tag: str | None) -> None:
    assert normalise_language(raw) == tag


def _decode(encoding: str | None, body: bytes, limit: int, chunk: int = 1000) -> bytes:
    decoder = BoundedDecoder(encoding, limit=limit)
    out = b"".join(decoder.feed(body[i : i + chunk]) for i in range(0, len(body), chunk))
    return out + decoder.flush()


def test_gzip_deflate_and_identity() -> None:
    text = b"<rss>" + b"news " * 5000 + b"</rss>"
    assert _decode("gzip", gzip.compress(text), 1 << 20) == text
    assert _decode("deflate", zlib.compress(text), 1 << 20) == text  # zlib-wrapped, per the RFC
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert _decode("deflate", raw.compress(text) + raw.flush(), 1 << 20) == text  # bare deflate
    assert _decode(None, text, 1 << 20) == text
    assert _decode("gzip", gzip.compress(text[:100]) + gzip.compress(text[100:]), 1 << 20) == text


def test_gzip_bomb_stops_at_the_cap_without_inflating_it() -> None:
    bomb = gzip_bomb(200 << 20)  # 200 MB of zeros in about 200 kB
    assert len(bomb) < 1 << 20
    decoder = BoundedDecoder("gzip", limit=1 << 20)
    with pytest.raises(FetchError) as info:
        decoder.feed(bomb)  # one call with the whole bomb: still never more than the cap + 1
    assert info.value.reason == "decompressed_too_large"
    assert decoder.decoded_bytes <= (1 << 20) + 1


def test_raw_cap_and_bad_encodings() -> None:
    with pytest.raises(FetchError, match="body_too_large"):
        _decode(None, b"x" * 5000, 4096)
    with pytest.raises(FetchError, match="bad_content_encoding"):
        _decode("gzip", b"this is not gzip at all", 4096)
    with pytest.raises(FetchError, match="bad_content_encoding"):
        BoundedDecoder("br", limit=10)
