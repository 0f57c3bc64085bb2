"""Store stage: idempotent writes and the model-version replacement policy, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from consumers.store import StoreStage
from tumen.bus.base import Record
from tumen.config import DatabaseSettings
from tumen.metrics import Metrics
from tumen.schemas import Article, Classified, Event, encode
from tumen.storage import Article as ArticleRow
from tumen.storage import Event as EventRow
from tumen.storage import create_db_engine, session_factory, upgrade

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _msg(version: str, types: list[str], classified_at: datetime, aid: str = "a" * 32) -> bytes:
    art = Article(
        id=aid,
        feed="f",
        url=f"https://example.org/{aid}",
        title="t",
        content="Shells went north. Trains crossed.",
        fetched_at=T0,
    )
    events = [
        Event(
            type=t,
            confidence=0.8,
            evidence="Shells went north.",
            start=0,
            end=18,
            actors=["North Korea"],
        )
        for t in types
    ]
    return encode(
        Classified(article=art, events=events, model_version=version, classified_at=classified_at)
    )


def _rec(value: bytes, offset: int = 0) -> Record:
    return Record("tumen.classified.v1", 0, offset, value, b"k")


@pytest.mark.integration
def test_idempotent_and_version_policy(db_url: str) -> None:
    engine = create_db_engine(DatabaseSettings(url=db_url))
    upgrade(engine)
    metrics = Metrics(CollectorRegistry())
    stage = StoreStage(engine=engine, metrics=metrics)
    v1 = _msg("m1", ["arms_transfer", "trade_logistics"], T0)
    stage.handle([_rec(v1), _rec(v1, 1)])  # the same message twice
    count = lambda: session_factory(engine)().scalar(select(func.count()).select_from(EventRow))  # noqa: E731
    assert count() == 2
    stage.handle([_rec(_msg("m2", ["arms_transfer"], T0 + timedelta(hours=1)))])
    assert count() == 1
    with session_factory(engine)() as s:
        row = s.get(ArticleRow, "a" * 32)
        assert row is not None and row.model_version == "m2" and row.superseded_versions == 1
    # An older classification arriving late never rolls the article back.
    stage.handle([_rec(_msg("m1", ["arms_transfer", "trade_logistics"], T0))])
    assert count() == 1
    kinds = {
        s.labels["kind"]: s.value
        for m in metrics.registry.collect()
        if m.name == "tumen_store_writes"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert kinds == {"inserted": 1.0, "duplicate": 1.0, "replaced": 1.0, "stale": 1.0}
    engine.dispose()


def test_poison_messages_are_reported_not_raised(sqlite_url: str) -> None:
    engine = create_db_engine(DatabaseSettings(url=sqlite_url))
    upgrade(engine)
    stage = StoreStage(engine=engine, metrics=Metrics(CollectorRegistry()))
    good = _msg("m1", ["arms_transfer"], T0)
    result = stage.handle([_rec(b"{not json"), _rec(b'{"schema": "x"}', 1), _rec(good, 2)])
    assert [r.offset for r, _ in result.failed] == [0, 1]
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(ArticleRow)) == 1


@pytest.mark.integration
def test_a_batch_is_one_transaction_and_a_rejected_message_is_isolated(pg_url: str) -> None:
    """PostgreSQL refuses a NUL character in text: that message alone fails, the rest of its
    batch is stored; and versions of one article inside one batch end as the newest."""
    engine = create_db_engine(DatabaseSettings(url=pg_url))
    upgrade(engine)
    stage = StoreStage(engine=engine, metrics=Metrics(CollectorRegistry()))
    batch = [_msg("m1", ["arms_transfer"], T0, aid=f"{i:032x}") for i in range(5)]
    bad = _msg("m1", ["arms_transfer"], T0, aid="f" * 32).replace(b"Shells", b"Sh\\u0000ells")
    batch.insert(2, bad)
    batch.append(_msg("m2", ["trade_logistics"], T0 + timedelta(hours=1), aid=f"{0:032x}"))
    result = stage.handle([_rec(v, i) for i, v in enumerate(batch)])
    assert [r.offset for r, _ in result.failed] == [2]
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(ArticleRow)) == 5
        assert s.get(ArticleRow, "f" * 32) is None
        first = s.get(ArticleRow, f"{0:032x}")
        assert first is not None and first.model_version == "m2"
        types = s.scalars(select(EventRow.type).where(EventRow.article_id == first.id)).all()
        assert types == ["trade_logistics"]
    engine.dispose()
