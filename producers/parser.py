"""Feed bytes → items: encoding, hostile-document checks, ``feedparser.parse``, normalisation.

Per item:
- the link is resolved against the feed's final URL (after redirects); the article id is the one
  of :func:`tumen.ids.article_id` (canonical URL, else the GUID, else — for items with neither —
  a hash of the feed URL, title and summary, so no item is ever dropped for lack of identity);
- title, summary and content are plain text (HTML stripped), capped in length;
- dates: the item's published (else updated, else created) date; when missing, unparseable,
  before 1995 or more than 10 minutes in the future, ``published_at`` is the fetch time and
  ``date_source`` says why ("missing", "unparseable", "implausible", "future"); the original text
  is kept in ``published_raw`` (published as the message header ``tumen-published-raw`` and in
  ``feed_items.published_raw``);
- language: the item's own (xml:lang), else the feed's, else the Content-Language header.

feedparser's "bozo" flag: a document with problems that still yields items is accepted (the
problem is reported in ``ParsedFeed.bozo``); one that yields no items is a :class:`FeedError`.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from producers.charset import decode_document
from producers.errors import FeedError
from producers.hostile import check_document
from producers.neardup import simhash
from producers.text import clip, collapse, html_to_text, normalise_language
from tumen.ids import article_id, canonical_url, content_hash

__all__ = ["Item", "ParseJob", "ParsedFeed", "fingerprint_text", "parse_feed"]

TITLE_LIMIT = 1_000
SUMMARY_LIMIT = 20_000
CONTENT_LIMIT = 200_000
RAW_DATE_LIMIT = 200
URL_LIMIT = 4096  # the message schema's limit
_FUTURE_SKEW = timedelta(minutes=10)
_EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True, slots=True)
class ParseJob:
    body: bytes
    headers: dict[str, str]
    url: str  # final URL of the feed, the base for relative links
    fetched_at: datetime
    max_items: int


@dataclass(frozen=True, slots=True)
class Item:
    article_id: str
    url: str
    guid: str | None
    title: str
    summary: str
    content: str
    published_at: datetime
    date_source: str  # "feed", or why the fetch time stands in: missing/unparseable/...
    published_raw: str | None
    language: str | None
    content_hash: str
    fingerprint: int | None  # 128-bit SimHash

    @property
    def text(self) -> str:
        return self.content or self.summary


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    items: list[Item]
    version: str
    title: str = ""
    language: str | None = None
    ttl_s: int | None = None
    encoding: str = "utf-8"
    bozo: str | None = None  # what feedparser or the decoder found wrong but recovered from
    notes: list[str] = field(default_factory=list)


def fingerprint_text(title: str, text: str) -> int | None:
    return simhash(f"{title}\n{text}")


def parse_feed(job: ParseJob) -> ParsedFeed:
    """Parse one feed document; raise FeedError when it yields nothing usable."""
    decoded = decode_document(job.body, job.headers)
    text = check_document(decoded.text, max_items=job.max_items)
    headers = {
        "content-type": "application/xml; charset=utf-8",
        "content-location": job.url,
        **(
            {"content-language": job.headers["content-language"]}
            if "content-language" in job.headers
            else {}
        ),
    }
    result = feedparser.parse(
        text.encode("utf-8"),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    bozo = _bozo_reason(result)
    entries = result.get("entries") or []
    if not entries and (bozo or not result.get("version")):
        raise FeedError("malformed" if bozo else "not_a_feed", bozo or "no feed elements found")
    feed = result.get("feed") or {}
    language = normalise_language(feed.get("language")) or normalise_language(
        job.headers.get("content-language", "").split(",")[0]
    )
    items = _items(entries, job, language)
    return ParsedFeed(
        items=items,
        version=str(result.get("version") or ""),
        title=clip(collapse(str(feed.get("title") or "")), TITLE_LIMIT),
        language=language,
        ttl_s=_ttl(feed.get("ttl")),
        encoding=decoded.encoding,
        bozo=bozo,
        notes=[decoded.note] if decoded.note else [],
    )


def _bozo_reason(result: Any) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}"[:300] if exc is not None else "bozo"


def _ttl(value: object) -> int | None:
    """RSS <ttl> is in minutes."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if 0 < minutes <= 7 * 24 * 60 else None


def _items(entries: list[Any], job: ParseJob, feed_language: str | None) -> list[Item]:
    seen: set[str] = set()
    items: list[Item] = []
    for entry in entries:
        item = _item(entry, job, feed_language)
        if item.article_id not in seen:  # a feed listing one link twice gives one item
            seen.add(item.article_id)
            items.append(item)
    return items


def _field_text(detail: Mapping[str, Any] | None, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value:
        return ""
    kind = (detail or {}).get("type", "text/html")
    if kind in _HTML_TYPES or "<" in value or "&" in value:
        return html_to_text(value, limit=limit)
    return clip(collapse(value[: limit * 2]), limit)


def _link(entry: Any, base: str) -> str:
    link = entry.get("link") or ""
    if not link:
        for candidate in entry.get("links") or []:
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    link = urljoin(base, str(link).strip()) if link else ""
    return link if urlsplit(link).scheme in ("http", "https") else ""


def _item(entry: Any, job: ParseJob, feed_language: str | None) -> Item:
    title = _field_text(entry.get("title_detail"), entry.get("title"), TITLE_LIMIT)
    summary = _field_text(entry.get("summary_detail"), entry.get("summary"), SUMMARY_LIMIT)
    contents = entry.get("content") or []
    content = "\n".join(
        t for c in contents if (t := _field_text(c, c.get("value"), CONTENT_LIMIT))
    )[:CONTENT_LIMIT]
    if content == summary:
        summary = ""  # feedparser copies Atom content into a missing summary: keep it once
    link = _link(entry, job.url)
    url = canonical_url(link) if link else ""
    if len(url) > URL_LIMIT:
        link = url = ""  # the GUID identifies such an item
    guid = str(entry.get("id") or "").strip()[:1000] or None
    if not link and not guid:
        guid = "synthetic:" + content_hash(f"{job.url}\n{title}\n{summary}")
    published_at, source, raw = _published(entry, job.fetched_at)
    text = content or summary
    return Item(
        article_id=article_id(link or None, guid),
        url=url,
        guid=guid,
        title=title,
        summary=summary,
        content=content,
        published_at=published_at,
        date_source=source,
        published_raw=raw,
        language=_language(entry, contents) or feed_language,
        content_hash=content_hash(f"{title}\n{text}"),
        fingerprint=fingerprint_text(title, text),
    )


def _raw(entry: Any, key: str) -> Any:
    """The entry's own value: FeedParserDict.get maps missing dates to others (and warns)."""
    return dict.get(entry, key)


def _published(entry: Any, fetched_at: datetime) -> tuple[datetime, str, str | None]:
    raw = next((v for k in ("published", "updated", "created") if (v := _raw(entry, k))), None)
    raw = str(raw)[:RAW_DATE_LIMIT] if raw is not None else None
    parsed = next(
        (
            v
            for k in ("published_parsed", "updated_parsed", "created_parsed")
            if (v := _raw(entry, k))
        ),
        None,
    )
    if parsed is None:
        return fetched_at, "unparseable" if raw else "missing", raw
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return fetched_at, "unparseable", raw
    if when > fetched_at + _FUTURE_SKEW:
        return fetched_at, "future", raw
    if when < _EARLIEST:
        return fetched_at, "implausible", raw
    return when, "feed", None


def _language(entry: Any, contents: list[Any]) -> str | None:
    for detail in (*contents, entry.get("summary_detail"), entry.get("title_detail")):
        if detail and (tag := normalise_language(detail.get("language"))):
            return tag
    return None
