"""Publishing without loss: dedup, send, wait for the broker's ack, *then* commit feed state.

For each polled feed, in one step:
1. sort its items: shown by this feed before (nothing to do), known from another feed (a
   duplicate, recorded once), a near-duplicate of a recent article from another feed (recorded
   with ``duplicate_of``, not published), or new;
2. publish the new ones to ``tumen.articles.v1``, keyed by article id, and block until the
   broker acknowledges them (Kafka: acks=all; embedded: on disk);
3. only then commit, in one transaction, the feed's state (ETag, Last-Modified, schedule,
   counters) with the new ``feed_items`` rows.

A crash between 2 and 3 leaves the feed's state as it was: the next poll fetches the same
document (the old ETag does not match) and publishes the items again — downstream is idempotent
by article id, so that is a duplicate message, never a lost article. If step 2 fails the broker
is down: nothing is committed and :class:`~tumen.errors.BusError` reaches the caller, which
keeps the prepared poll and retries it with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from producers.neardup import NearDuplicateIndex
from producers.parser import Item
from producers.store import FeedState, FeedStore, FeedUpdate, ItemRow
from tumen.bus import Outgoing, Producer
from tumen.bus.base import TOPICS
from tumen.metrics import Metrics
from tumen.schemas import Article, encode

__all__ = ["CommitResult", "Publisher", "to_article_message", "to_message"]

log = logging.getLogger(__name__)

_SEND_BATCH = 500


@dataclass(frozen=True, slots=True)
class CommitResult:
    new: int  # new to this feed: published + duplicates
    published: int
    duplicates: int
    published_ids: tuple[str, ...] = ()


def to_article_message(article: Article, headers: Sequence[tuple[str, bytes]] = ()) -> Outgoing:
    """An article on ``tumen.articles.v1``, keyed by its id."""
    return Outgoing(TOPICS["articles"], encode(article), article.id.encode(), tuple(headers))


def to_message(item: Item, *, feed: str, fetched_at: datetime) -> Outgoing:
    """The message of a polled item; where its date came from travels in headers."""
    article = Article(
        id=item.article_id,
        feed=feed,
        url=item.url,
        title=item.title,
        summary=item.summary,
        content=item.content,
        published_at=item.published_at,
        fetched_at=fetched_at,
        language=item.language,
        content_hash=item.content_hash,
    )
    headers = [("tumen-date-source", item.date_source.encode())]
    if item.published_raw:
        headers.append(("tumen-published-raw", item.published_raw.encode("utf-8")))
    return to_article_message(article, headers)


class Publisher:
    """Runs in one thread at a time (the service's commit thread): the index is not locked."""

    def __init__(
        self,
        *,
        store: FeedStore,
        producer: Producer,
        index: NearDuplicateIndex,
        metrics: Metrics,
        publish_timeout_s: float,
    ) -> None:
        self._store = store
        self._producer = producer
        self._index = index
        self._metrics = metrics
        self._timeout_s = publish_timeout_s

    def commit(
        self, feed: FeedState, items: Sequence[Item], change: FeedUpdate, *, fetched_at: datetime
    ) -> CommitResult:
        seen_here, known = self._store.lookup(feed.id, [i.article_id for i in items])
        fresh = [i for i in items if i.article_id not in seen_here]
        originals, rows = self._classify(feed.id, fresh, known)
        messages = [to_message(i, feed=feed.name, fetched_at=fetched_at) for i in originals]
        for start in range(0, len(messages), _SEND_BATCH):
            self._producer.send(messages[start : start + _SEND_BATCH], timeout_s=self._timeout_s)
        change.items_seen += len(items)
        change.published += len(originals)
        change.new_items = rows
        change.sources = [i.article_id for i in fresh]
        if fresh:
            change.values["last_new_item_at"] = fetched_at
        self._store.commit([change], fetched_at)
        for item in originals:
            if item.fingerprint is not None:
                self._index.add(item.article_id, item.fingerprint, feed.id)
        return self._account(feed, items, fresh, originals, fetched_at)

    def _classify(
        self, feed_id: int, fresh: Sequence[Item], known: set[str]
    ) -> tuple[list[Item], list[ItemRow]]:
        """Split new-to-this-feed items into originals and duplicates (with their rows)."""
        originals: list[Item] = []
        rows: list[ItemRow] = []
        for item in fresh:
            if item.article_id in known:
                continue  # same article via another feed: one article, recorded once
            first = None
            if item.fingerprint is not None:
                first = self._index.find(item.fingerprint, feed_id)
            rows.append(_row(item, duplicate_of=first))
            if first is None:
                originals.append(item)
        return originals, rows

    def _account(
        self,
        feed: FeedState,
        items: Sequence[Item],
        fresh: Sequence[Item],
        originals: Sequence[Item],
        fetched_at: datetime,
    ) -> CommitResult:
        duplicates = len(fresh) - len(originals)
        m = self._metrics
        m.feed_items_seen.labels(feed=feed.name).inc(len(items))
        if originals:
            m.articles_published.labels(feed=feed.name).inc(len(originals))
        if duplicates:
            m.articles_duplicate.labels(feed=feed.name).inc(duplicates)
        if fresh:
            m.feed_last_new_item.labels(feed=feed.name).set(fetched_at.timestamp())
        if originals:
            log.info(
                "published feed=%s new=%d published=%d duplicates=%d",
                feed.name,
                len(fresh),
                len(originals),
                duplicates,
            )
        return CommitResult(
            len(fresh), len(originals), duplicates, tuple(i.article_id for i in originals)
        )


def _row(item: Item, *, duplicate_of: str | None) -> ItemRow:
    return ItemRow(
        item.article_id,
        item.url,
        item.content_hash,
        item.fingerprint,
        duplicate_of,
        item.published_raw,
    )
