"""Full text of an article page (feeds with ``full_text: true``), extracted with trafilatura.

The page is fetched by the same :class:`~producers.fetcher.Fetcher` as feeds (same SSRF guard,
size cap, deadline and per-host politeness) and extracted in a worker process (same time and
memory bounds as parsing). When either fails, the item keeps its feed summary and
``tumen_fulltext_failures_total{feed}`` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from producers.neardup import simhash
from producers.parser import CONTENT_LIMIT
from producers.text import clip, collapse

__all__ = ["ExtractJob", "Extracted", "extract_article"]

_MIN_CHARS = 200  # less than this is a cookie wall or an error page, not an article


@dataclass(frozen=True, slots=True)
class ExtractJob:
    body: bytes
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str | None  # None: nothing worth keeping was found
    fingerprint: int | None


def extract_article(job: ExtractJob) -> Extracted:
    import trafilatura  # heavy (lxml, htmldate, justext); only full-text feeds need it

    raw = trafilatura.extract(
        job.body,
        url=job.url,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        deduplicate=False,
        with_metadata=False,
    )
    text = clip(collapse(raw), CONTENT_LIMIT) if raw else ""
    if len(text) < _MIN_CHARS:
        return Extracted(None, None)
    return Extracted(text, simhash(f"{job.title}\n{text}"))
