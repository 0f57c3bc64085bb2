"""Pick the bus the configuration asks for."""

from __future__ import annotations

from tumen.bus.base import TOPICS, Bus
from tumen.config import Settings

__all__ = ["open_bus"]


def open_bus(settings: Settings, *, wait: bool = True) -> Bus:
    """Kafka when ``kafka.bootstrap_servers`` is set, else the durable embedded bus."""
    if settings.embedded_mode:
        from tumen.bus.embedded import EmbeddedBus

        return EmbeddedBus(path=settings.embedded.path)
    from tumen.bus.kafka import KafkaBus, wait_for_broker

    if wait:
        wait_for_broker(settings.kafka)
    bus = KafkaBus(settings=settings.kafka)
    # Every process creates the contract topics it may touch, so no start order is required
    # (the broker does not auto-create topics, and must not: partitions are configured here).
    bus.ensure_topics(list(TOPICS.values()))
    return bus
