"""The message bus the stages talk through: Kafka in production, a durable SQLite log embedded.

Delivery contract, the same for both implementations:
- ``Producer.send`` returns only after every message is durably accepted (Kafka: acks=all;
  embedded: committed to SQLite with synchronous=FULL). If it raises, treat nothing as sent.
- Consumers never commit on their own. A stage commits the records it has fully processed, after
  the outputs of that processing are durable. Redelivery after a crash is therefore possible,
  loss is not; every stage's writes are idempotent by key.
"""

from __future__ import annotations

from tumen.bus.base import Bus, Consumer, Outgoing, Producer, Record
from tumen.bus.factory import open_bus

__all__ = ["Bus", "Consumer", "Outgoing", "Producer", "Record", "open_bus"]
