"""Pick the bus the configuration asks for."""

from __future__ import annotations

from tumen.bus.base import Bus
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
    return KafkaBus(settings=settings.kafka)
