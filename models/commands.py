"""What ``tumen classify``, ``tumen evaluate`` and ``tumen train`` do, minus argument parsing.

Malformed input is data, not a crash: a bad ``classify`` line yields ``{"line": N, "error": ...}``
in its place and the run goes on; the caller turns a non-zero failure count into exit status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from models.classifier import Document, EventModel
from models.evaluation import evaluate
from models.head import SHIPPED_ARTIFACT_BYTES, Head
from models.training import FINETUNE, train

__all__ = ["classify_jsonl", "evaluate_command", "format_table", "train_command"]

BATCH = 32  # documents per encoder pass: big enough to batch, small enough to stream


@dataclass(frozen=True)
class _Bad:
    line: int
    error: str


def _parse(number: int, line: str) -> Document | _Bad:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return _Bad(number, f"not JSON: {exc.msg}")
    if not isinstance(obj, dict):
        return _Bad(number, "expected a JSON object")
    ident, text, title = obj.get("id"), obj.get("text"), obj.get("title")
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    if not isinstance(ident, str) or not ident:
        return _Bad(number, "id: a non-empty string is required")
    if not isinstance(text, str):
        return _Bad(number, "text: a string is required")
    if title is not None and not isinstance(title, str):
        return _Bad(number, "title: must be a string")
    return Document(id=ident, text=text, title=title or "")


def _chunks(inp: TextIO) -> Iterator[list[tuple[int, Document | _Bad]]]:
    chunk: list[tuple[int, Document | _Bad]] = []
    for number, line in enumerate(inp, 1):
        chunk.append((number, _parse(number, line)))
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _classify_chunk(model: EventModel, docs: list[Document]) -> list[list[Any] | str]:
    """Events per document as JSON-ready dicts, or the error that document raised."""
    try:
        return [_dump(events) for events in model.classify(docs)]
    except Exception:  # one bad document must not sink its batch: retry them one at a time
        return [_classify_one(model, doc) for doc in docs]


def _classify_one(model: EventModel, doc: Document) -> list[Any] | str:
    try:
        return _dump(model.classify([doc])[0])
    except Exception as exc:  # reported on that document's line; the run goes on
        return f"classification failed: {type(exc).__name__}: {exc}"


def _dump(events: list[Any]) -> list[Any]:
    return [e.model_dump(mode="json", by_alias=True) for e in events]


def classify_jsonl(model: EventModel, inp: TextIO, out: TextIO) -> int:
    """Classify JSONL documents (``id``, ``text``, optional ``title``); returns failed lines."""
    failed = 0
    for chunk in _chunks(inp):
        docs = [item for _, item in chunk if isinstance(item, Document)]
        results = iter(_classify_chunk(model, docs) if docs else [])
        for number, item in chunk:
            record: dict[str, Any]
            result = next(results) if isinstance(item, Document) else None
            if isinstance(item, _Bad):
                record = {"line": item.line, "error": item.error}
            elif isinstance(result, str):
                record = {"line": number, "error": result}
            else:
                record = {"id": item.id, "events": result, "model_version": model.model_version}
            failed += "error" in record
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return failed


def format_table(result: dict[str, Any]) -> str:
    """Per-type precision / recall / F1 / support / average precision, then micro and macro."""
    lines = [f"{'type':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}{'AP':>8}"]
    for name, s in result["per_type"].items():
        ap = f"{s['average_precision']:>8.3f}" if "average_precision" in s else ""
        lines.append(
            f"{name:<24}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>10.3f}"
            f"{s['support']:>9d}{ap}"
        )
    lines.append(f"{'micro':<24}{result['micro_precision']:>10.3f}"
                 f"{result['micro_recall']:>10.3f}{result['micro_f1']:>10.3f}")  # fmt: skip
    mean_ap = result.get("mean_average_precision")
    lines.append(f"{'macro':<24}{'':>10}{'':>10}{result['macro_f1']:>10.3f}"
                 + ("" if mean_ap is None else f"{'':>9}{mean_ap:>8.3f}"))  # fmt: skip
    if "ece" in result:
        lines.append(f"ECE {result['ece']:.3f} over {result.get('documents', 0)} documents")
    return "\n".join(lines)


def evaluate_command(
    model: EventModel, data: Path, json_out: Path | None, out: TextIO
) -> dict[str, Any]:
    """Evaluate on ``data``, print the table to ``out`` and optionally write the scores as JSON."""
    result = evaluate(model, data)
    out.write(format_table(result) + "\n")
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return result


def train_command(
    data_dir: Path,
    out: Path,
    seed: int,
    *,
    finetune: bool = False,
    reuse: Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """Train on ``data_dir`` (all ``*.jsonl``), write the artifact to ``out``, print a summary.

    ``finetune``: train an encoder adapter first. ``reuse``: an artifact whose encoder adapter
    and calibration are kept, so that only the head's layers are refitted.
    """
    source = Head.load(reuse) if reuse is not None else None
    settings = FINETUNE if finetune else None
    report = train(data_dir, out, seed, progress=True, finetuning=settings, reuse=source)
    sink = stream or sys.stdout
    tuned = report.finetune_seconds
    sink.write(
        f"trained on {report.examples} examples in {report.seconds:.0f}s"
        f"{'' if tuned is None else f' (fine-tuning {tuned:.0f}s)'}; "
        f"artifact {out} sha256 {report.artifact_sha256[:12]}\n"
        f"calibrated on {report.calibrated_on}: "
        f"micro-F1 {report.calibration_micro_f1:.3f}, ECE {report.calibration_ece:.3f}\n"
    )
    for name, f1 in report.calibration_f1.items():
        sink.write(f"  {name:<24} f1 {f1:.3f}  threshold {report.thresholds[name]:.3f}\n")
    size = out.stat().st_size
    if size > SHIPPED_ARTIFACT_BYTES:
        sink.write(
            f"warning: the artifact is {size / 2**20:.1f} MiB, over the "
            f"{SHIPPED_ARTIFACT_BYTES / 2**20:.1f} MiB that may be shipped in the package; "
            "it works, but do not commit it as the default model\n"
        )
