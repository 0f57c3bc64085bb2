"""Low-rank adapters (LoRA) that fine-tune the encoder inside a small artifact.

A linear head on the frozen MiniLM embedding cannot move the embedding itself, and the measured
dev-set F1 of that design levelled off (see the README's model section). Fine-tuning every
weight would make the artifact 90 MB; instead each targeted linear layer ``W`` of the encoder gets
a trained low-rank update, ``W + (alpha / rank) * B @ A``, with ``A`` of shape (rank, in) and ``B``
of shape (out, rank). At rank 8 on every attention and feed-forward projection that is 331,776
numbers, 1.3 MB of float32 in the artifact.

At load time the update is merged into a private copy of the weights, so inference runs exactly
the frozen encoder's arithmetic and costs the same. ``B`` starts at zero: before the first step
the adapted encoder is the pretrained one.

Training (:func:`finetune`) minimises multi-label binary cross-entropy of a temporary linear
layer on the mean-pooled, L2-normalised embedding, by AdamW with linear warm-up and decay. It is
reproducible bit for bit on one machine: a fixed thread count, a seeded generator for the order
and the initial ``A``, no dropout, and fixed-size batches in a fixed order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from models.encoder import load_pretrained, model_dir, pad_batch, token_state_sums, torch_threads
from models.packing import pack, unpack
from tumen.errors import TumenError

__all__ = ["Adapter", "AdapterError", "FinetuneSettings", "finetune"]

Matrix = npt.NDArray[np.float32]


class AdapterError(TumenError):
    """An adapter does not fit the encoder it is applied to."""


@dataclass(frozen=True)
class FinetuneSettings:
    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = ("query", "key", "value", "dense")  # the pooler is never adapted
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06  # share of the steps
    max_length: int = 128  # training passages are 1-3 sentences
    logit_scale: float = 20.0  # the temporary layer sees unit vectors; this widens its range
    threads: int = 2
    checkpoint_step: int = 8  # the adapter's digest after this step goes into the artifact

    def as_meta(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Adapter:
    rank: int
    alpha: float
    factors: Mapping[str, tuple[Matrix, Matrix]]  # module path -> (A, B)

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def digest(self) -> str:
        """SHA-256 of the rank, alpha and every factor's bytes, in module order."""
        h = hashlib.sha256(f"{self.rank}:{self.alpha!r}".encode())
        for name in sorted(self.factors):
            a, b = self.factors[name]
            h.update(name.encode())
            h.update(np.ascontiguousarray(a, "<f4").tobytes())
            h.update(np.ascontiguousarray(b, "<f4").tobytes())
        return h.hexdigest()

    def merge_into(self, model: torch.nn.Module) -> None:
        """Add every low-rank update to its layer's weight, in place."""
        with torch.no_grad():
            for name in sorted(self.factors):
                a, b = self.factors[name]
                try:
                    layer = model.get_submodule(name)
                except AttributeError as exc:
                    raise AdapterError(f"the encoder has no layer {name!r}") from exc
                weight = layer.weight
                if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (
                    b.shape[0],
                    a.shape[1],
                ):
                    raise AdapterError(f"adapter factors for {name!r} do not fit its weight")
                weight += torch.from_numpy(b @ a) * self.scale

    def to_doc(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "factors": {n: {"a": pack(a), "b": pack(b)} for n, (a, b) in self.factors.items()},
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Adapter:
        factors = {str(n): (unpack(f["a"]), unpack(f["b"])) for n, f in doc["factors"].items()}
        rank = int(doc["rank"])
        for name, (a, b) in factors.items():
            if a.ndim != 2 or b.ndim != 2 or a.shape[0] != rank or b.shape[1] != rank:
                raise ValueError(f"adapter factors for {name!r} are not of rank {rank}")
        return cls(rank=rank, alpha=float(doc["alpha"]), factors=factors)


@dataclass(frozen=True)
class FinetuneResult:
    adapter: Adapter
    checkpoint_sha256: str  # the adapter's digest after ``settings.checkpoint_step`` steps
    steps: int


class _LowRank(torch.nn.Module):
    """A frozen linear layer plus its trainable low-rank update (used only while training)."""

    def __init__(self, base: torch.nn.Linear, rank: int, scale: float, gen: torch.Generator):
        super().__init__()
        self.base = base
        self.scale = scale
        bound = 1.0 / math.sqrt(base.in_features)
        self.a = torch.nn.Parameter(
            (torch.rand((rank, base.in_features), generator=gen) * 2 - 1) * bound
        )
        self.b = torch.nn.Parameter(torch.zeros((base.out_features, rank)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.base(x) + (x @ self.a.T @ self.b.T) * self.scale
        return out


def _attach(
    model: torch.nn.Module, s: FinetuneSettings, gen: torch.Generator
) -> dict[str, _LowRank]:
    """Wrap every targeted linear layer in place; returns them by module path."""
    wrapped: dict[str, _LowRank] = {}
    for parent_name, parent in list(model.named_modules()):
        if parent_name.startswith("pooler"):
            continue
        for child_name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear) and child_name in s.targets:
                path = f"{parent_name}.{child_name}" if parent_name else child_name
                wrapped[path] = _LowRank(child, s.rank, s.alpha / s.rank, gen)
                setattr(parent, child_name, wrapped[path])
    if not wrapped:
        raise AdapterError(f"no linear layer of the encoder is named in {s.targets}")
    return wrapped


def _snapshot(wrapped: Mapping[str, _LowRank], s: FinetuneSettings) -> Adapter:
    return Adapter(
        rank=s.rank,
        alpha=s.alpha,
        factors={
            name: (layer.a.detach().numpy().copy(), layer.b.detach().numpy().copy())
            for name, layer in sorted(wrapped.items())
        },
    )


def _schedule(total: int, warmup: float) -> Any:
    ramp = max(1.0, warmup * total)
    return lambda step: min(1.0, (step + 1) / ramp) * max(0.0, (total - step) / total)


def _steps(total: int, enabled: bool) -> Iterable[int]:
    if not enabled:
        return range(total)
    from tqdm import tqdm

    bar: Iterable[int] = tqdm(range(total), desc="fine-tuning", unit="step", leave=False)
    return bar


def finetune(
    texts: Sequence[str],
    labels: npt.NDArray[np.bool_],
    *,
    settings: FinetuneSettings | None = None,
    seed: int = 0,
    stop_after: int | None = None,
    progress: bool = False,
) -> FinetuneResult:
    """Train an adapter on ``texts`` with multi-hot ``labels``; ``stop_after`` ends it early."""
    s = settings or FinetuneSettings()
    if len(texts) != len(labels) or not texts:
        raise AdapterError("fine-tuning needs as many label rows as texts, and at least one")
    gen = torch.Generator().manual_seed(seed)
    tokenizer, model = load_pretrained(model_dir())
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()  # no dropout: every step must be reproducible
    wrapped = _attach(model, s, gen)
    temporary = torch.nn.Linear(model.config.hidden_size, labels.shape[1])
    with torch.no_grad():
        temporary.weight.copy_((torch.rand(temporary.weight.shape, generator=gen) * 2 - 1) / 20)
        temporary.bias.zero_()
    params = [p for layer in wrapped.values() for p in (layer.a, layer.b)]
    params += list(temporary.parameters())
    rows = tokenizer(list(texts), truncation=True, max_length=s.max_length)["input_ids"]
    targets = torch.from_numpy(labels.astype(np.float32))
    per_epoch = math.ceil(len(rows) / s.batch_size)
    total = per_epoch * s.epochs
    steps = total if stop_after is None else min(total, stop_after)
    optimizer = torch.optim.AdamW(params, lr=s.learning_rate, weight_decay=s.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(total, s.warmup))
    checkpoint = ""
    with torch_threads(s.threads):
        order: list[int] = []
        for step in _steps(steps, progress):
            if step % per_epoch == 0:
                order = torch.randperm(len(rows), generator=gen).tolist()
            chosen = order[(step % per_epoch) * s.batch_size :][: s.batch_size]
            ids, mask = pad_batch([rows[i] for i in chosen])
            pooled = token_state_sums(model, ids, mask)
            pooled = pooled / pooled.norm(dim=1, keepdim=True).clamp_min(1e-12)
            logits = temporary(pooled) * s.logit_scale
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[chosen])
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            scheduler.step()
            if step + 1 == s.checkpoint_step:
                checkpoint = _snapshot(wrapped, s).digest()
    return FinetuneResult(_snapshot(wrapped, s), checkpoint, steps)
