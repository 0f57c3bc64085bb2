"""`torch_threads` against concurrent callers.

Part of torch's thread setting is process-wide (MKL's count, the count new threads start with),
so one caller's setting must not be in force while another caller's torch work runs.
"""

from __future__ import annotations

import threading

import torch

from models.encoder import torch_threads


def test_a_second_caller_waits_until_the_first_has_restored_the_count() -> None:
    before = torch.get_num_threads()
    inside, release, second_in = threading.Event(), threading.Event(), threading.Event()
    counts: list[int] = []

    def first() -> None:
        with torch_threads(1):
            inside.set()
            release.wait(10)
            counts.append(torch.get_num_threads())

    def second() -> None:
        inside.wait(10)
        with torch_threads(2):
            second_in.set()
            counts.append(torch.get_num_threads())

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for worker in workers:
        worker.start()
    assert inside.wait(10)
    assert not second_in.wait(0.5), "the second caller ran while the first held its count"
    release.set()
    for worker in workers:
        worker.join(10)
    assert second_in.is_set()
    assert counts == [1, 2]
    assert torch.get_num_threads() == before


def test_nested_use_in_one_thread_restores_each_level() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        with torch_threads(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
