"""Alert rules, dedup, cooldown and re-notification on material change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from consumers.alerter import AlerterStage
from consumers.errors import RuleError
from consumers.rules import EventRule, RateRule, SpikeRule, load_rules, parse_duration
from tumen.bus.base import Record
from tumen.config import DatabaseSettings
from tumen.metrics import Metrics
from tumen.profile import load_profile
from tumen.schemas import Article, Classified, Direction, Event, Quantity, decode_alert, encode
from tumen.storage import Alert as AlertRow
from tumen.storage import create_db_engine, session_factory, upgrade

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ARMS = EventRule(
    name="arms",
    severity="critical",
    types=["arms_transfer"],
    actors={"all": ["North Korea", "Russia"]},
    min_confidence=0.5,
    cooldown="6h",
)


def _event(
    etype: str = "arms_transfer",
    qty: float | None = None,
    conf: float = 0.9,
    actors: tuple[str, ...] = ("North Korea", "Russia"),
) -> Event:
    q = [Quantity(text=str(qty), value=qty, unit="shells")] if qty is not None else []
    return Event(
        type=etype,
        confidence=conf,
        evidence="Pyongyang shipped shells to Moscow.",
        start=0,
        end=35,
        actors=list(actors),
        direction=Direction(source="North Korea", target="Russia"),
        quantities=q,
    )


def _rec(aid: str, events: list[Event], at: datetime, offset: int = 0) -> Record:
    art = Article(id=aid, feed="f", url=f"https://example.org/{aid}", fetched_at=at)
    msg = Classified(article=art, events=events, model_version="m", classified_at=at)
    return Record("tumen.classified.v1", 0, offset, encode(msg))


def _stage(tmp_path: Path, rules: list[EventRule | RateRule | SpikeRule]) -> AlerterStage:
    engine = create_db_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'a.db'}"))
    upgrade(engine)
    return AlerterStage(engine=engine, rules=rules, metrics=Metrics(CollectorRegistry()))


def test_parse_duration() -> None:
    assert parse_duration("6h") == 21600 and parse_duration("15m") == 900
    assert parse_duration(30) == 30 and parse_duration("7d") == 7 * 86400
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_event_rule_matching() -> None:
    assert ARMS.matches(_event())
    assert not ARMS.matches(_event(conf=0.3))
    assert not ARMS.matches(_event(actors=("North Korea",)))
    assert not ARMS.matches(_event(etype="trade_logistics"))
    reverse = EventRule(name="r", types=["arms_transfer"], direction={"from": "Russia"})
    assert not reverse.matches(_event())


def test_one_story_from_ten_outlets_fires_once_then_renotifies(tmp_path: Path) -> None:
    stage = _stage(tmp_path, [ARMS])
    first = stage.handle([_rec("a0", [_event()], T0)])
    assert len(first.outputs) == 1
    alert = decode_alert(first.outputs[0].value)
    assert alert.rule == "arms" and alert.severity == "critical" and alert.sources == 1
    later = [
        stage.handle([_rec(f"a{i}", [_event()], T0 + timedelta(minutes=i))]).outputs
        for i in range(1, 10)
    ]
    fired = [decode_alert(o[0].value) for o in later if o]
    assert [a.sources for a in fired] == [3, 10], "re-notify only when sources cross 3 and 10"
    bigger = stage.handle([_rec("b1", [_event(qty=5000)], T0 + timedelta(hours=1))]).outputs
    assert len(bigger) == 1 and "larger quantity" in decode_alert(bigger[0].value).reason
    with session_factory(stage._sessions.kw["bind"])() as s:  # type: ignore[attr-defined]
        rows = list(s.scalars(select(AlertRow)))
    assert len(rows) == 1 and rows[0].sources == 11


def test_redelivery_does_not_fire_twice_but_reemits_the_pending_alert(tmp_path: Path) -> None:
    stage = _stage(tmp_path, [ARMS])
    assert len(stage.handle([_rec("a0", [_event()], T0)]).outputs) == 1
    again = stage.handle([_rec("a0", [_event()], T0)]).outputs
    assert len(again) == 1, "a re-delivered trigger re-emits (at-least-once notification)"
    assert stage.handle([_rec("a1", [_event()], T0)]).outputs == []
    assert stage.handle([_rec("a1", [_event()], T0)]).outputs == []  # counted once


def test_cooldown_expiry_fires_again(tmp_path: Path) -> None:
    stage = _stage(tmp_path, [ARMS])
    assert stage.handle([_rec("a0", [_event()], T0)]).outputs
    assert not stage.handle([_rec("a1", [_event()], T0 + timedelta(hours=5))]).outputs
    assert stage.handle([_rec("a2", [_event()], T0 + timedelta(hours=7))]).outputs


def test_rate_rule(tmp_path: Path) -> None:
    rule = RateRule(
        name="rate",
        kind="rate",
        types=["labor_dispatch"],
        actor="North Korea",
        min_events=3,
        window="1d",
    )
    stage = _stage(tmp_path, [rule])
    ev = _event(etype="labor_dispatch")
    outs = [stage.handle([_rec(f"a{i}", [ev], T0 + timedelta(hours=i))]).outputs for i in range(4)]
    assert [bool(o) for o in outs] == [False, False, True, False]


def test_spike_is_normalised_by_article_volume(tmp_path: Path) -> None:
    rule = SpikeRule(
        name="spike",
        kind="spike",
        types=["trade_logistics"],
        window="1d",
        baseline="7d",
        factor=3,
        min_events=3,
    )
    stage = _stage(tmp_path, [rule])
    ev = _event(etype="trade_logistics")
    n = 0
    for day in range(7):  # baseline: 1 trade article in 10 per day
        for i in range(10):
            at = T0 + timedelta(days=day, minutes=i)
            assert not stage.handle([_rec(f"b{n}", [ev] if i == 0 else [], at)]).outputs
            n += 1
    # A new, busy feed: 10x the volume with the same 1-in-10 share: no spike.
    for i in range(100):
        at = T0 + timedelta(days=7, minutes=i)
        assert not stage.handle([_rec(f"c{n}", [ev] if i % 10 == 0 else [], at)]).outputs
        n += 1
    # Then the share jumps: 40 trade reports in a row triple the share: one spike alert.
    fired = []
    for i in range(40):
        at = T0 + timedelta(days=7, hours=3, minutes=i)
        fired.append(bool(stage.handle([_rec(f"d{n + i}", [ev], at)]).outputs))
    assert fired.count(True) == 1 and not fired[0]


def test_default_profile_rules_load_and_bad_rules_fail() -> None:
    profile = load_profile()
    rules = load_rules(profile)
    assert {type(r) for r in rules} >= {EventRule, SpikeRule}
    bad = profile.model_copy(update={"alert_rules": [{"name": "x", "types": ["nope"]}]})
    with pytest.raises(RuleError, match="unknown types"):
        load_rules(bad)
    bad2 = profile.model_copy(
        update={"alert_rules": [{"name": "x", "types": ["arms_transfer"], "cooldown": "later"}]}
    )
    with pytest.raises(RuleError, match="cooldown"):
        load_rules(bad2)
