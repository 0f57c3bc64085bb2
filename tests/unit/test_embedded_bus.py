"""The embedded bus: commits, redelivery of uncommitted records, and durability under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tumen.bus.base import Outgoing
from tumen.bus.embedded import EmbeddedBus


def test_commit_and_redelivery(tmp_path: Path) -> None:
    bus = EmbeddedBus(path=tmp_path / "bus.db")
    bus.producer().send([Outgoing("t", value=str(i).encode(), key=b"k") for i in range(10)])
    c = bus.consumer(group="g", topics=["t"])
    batch = c.poll(max_records=4, timeout_s=0.1)
    assert [int(r.value) for r in batch] == [0, 1, 2, 3]
    c.commit(batch[:2])
    c.close()
    c2 = bus.consumer(group="g", topics=["t"])  # uncommitted 2, 3 come again
    assert [int(r.value) for r in c2.poll(max_records=100, timeout_s=0.1)] == list(range(2, 10))
    assert c2.lag() == {("t", 0): 8}
    other = bus.consumer(group="other", topics=["t"])  # groups are independent
    assert len(other.poll(max_records=100, timeout_s=0.1)) == 10


def test_pause_rewind_and_unread(tmp_path: Path) -> None:
    bus = EmbeddedBus(path=tmp_path / "bus.db")
    bus.producer().send([Outgoing("t", value=b"x")])
    c = bus.consumer(group="g", topics=["t"])
    c.pause()
    assert c.poll(max_records=10, timeout_s=0.05) == []
    c.resume()
    assert len(c.poll(max_records=10, timeout_s=0.05)) == 1
    c.rewind()
    polled = c.poll(max_records=10, timeout_s=0.05)
    assert len(polled) == 1
    c.unread(polled)  # pushed back: delivered again, nothing else
    assert c.poll(max_records=10, timeout_s=0.05) == polled
    assert c.take_revoked() == set()  # a single consumer per group is never rebalanced


_WRITER = textwrap.dedent(
    """
    import os, sys
    from tumen.bus.embedded import EmbeddedBus
    from tumen.bus.base import Outgoing
    bus = EmbeddedBus(path=sys.argv[1])
    p = bus.producer()
    for i in range(1_000_000):
        p.send([Outgoing("t", value=str(i).encode())])
        print(i, flush=True)   # printed only after send returned: the item is accepted
    """
)


def test_accepted_items_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    accepted = -1
    for line in proc.stdout:
        accepted = int(line)
        if accepted >= 200:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    bus = EmbeddedBus(path=path)
    values = [
        int(r.value)
        for r in bus.consumer(group="g", topics=["t"]).poll(max_records=1_000_000, timeout_s=0.1)
    ]
    assert values[: accepted + 1] == list(range(accepted + 1)), "an accepted item was lost"
