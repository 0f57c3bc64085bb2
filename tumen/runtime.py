"""Process plumbing shared by the commands: signals, metrics endpoint, database and bus."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from tumen.bus import Bus, open_bus
from tumen.config import Settings
from tumen.errors import StorageError
from tumen.metrics import Health, Metrics, MetricsServer
from tumen.profile import Profile, load_profile
from tumen.storage import create_db_engine, upgrade, wait_for_database

__all__ = ["Runtime", "install_stop_handlers"]

log = logging.getLogger(__name__)


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM/SIGINT ask the loops to finish their batch and exit; a second SIGINT forces it."""

    first: list[float] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        # A repeat within a second is the same request delivered twice (to the process and to
        # its group, as `timeout` does), not an impatient second Ctrl-C.
        if stop.is_set() and signum == signal.SIGINT and first and time.monotonic() - first[0] > 1:
            raise KeyboardInterrupt
        if not stop.is_set():
            first.append(time.monotonic())
            log.info("stopping on %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@dataclass
class Runtime:
    """What a command needs, created lazily so that e.g. ``tumen classify`` opens no database."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    health: Health = field(default_factory=Health)
    stop: threading.Event = field(default_factory=threading.Event)
    _profile: Profile | None = None
    _engine: Engine | None = None
    _bus: Bus | None = None
    _server: MetricsServer | None = None

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = load_profile(self.settings.profile)
        return self._profile

    def engine(self, *, migrate: bool = True) -> Engine:
        """Connect (waiting with backoff up to ``database.connect_timeout_s``) and migrate."""
        if self._engine is None:
            engine = create_db_engine(self.settings.database)
            wait_for_database(engine, timeout_s=self.settings.database.connect_timeout_s)
            if migrate:
                try:
                    upgrade(engine)
                except SQLAlchemyError as exc:
                    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                    raise StorageError(f"database migration failed: {reason}") from exc
            self._engine = engine
        return self._engine

    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = open_bus(self.settings)
        return self._bus

    def serve_metrics(self) -> int:
        m = self.settings.metrics
        self._server = MetricsServer(
            metrics=self.metrics, health=self.health, host=m.host, port=m.port
        ).start()
        log.info("metrics on http://%s:%d/metrics", m.host, self._server.port)
        return self._server.port

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._bus is not None:
            self._bus.close()
        if self._engine is not None:
            self._engine.dispose()
