"""The event model: documents in, typed events with evidence, offsets and extracted fields out.

Every passage of every document in a call is encoded in one batched pass; the head gives a
calibrated probability per passage and type; a type above its threshold becomes an event. Windows
overlap, so the same event is often seen twice: overlapping detections of one type collapse into the
most confident one. A title detection (empty span 0..0, see :mod:`models.passages`) is kept only
when no body passage supports that type.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.composition import passage_embeddings
from models.encoder import Encoder, torch_threads
from models.extraction import Extractor
from models.head import ArtifactError, Head
from models.passages import Passage, PassageConfig, split_passages
from tumen.profile import Profile, load_profile
from tumen.schemas import Event

__all__ = [
    "Analysis",
    "Detection",
    "Document",
    "EventModel",
    "default_artifact_path",
    "profile_fingerprint",
]

ENCODER_NAME = "minilm-l6-v2"


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class Detection:
    type: str
    confidence: float
    passage: Passage


@dataclass(frozen=True)
class Analysis:
    """One document's passages, their calibrated probabilities (passages x types), detections."""

    passages: tuple[Passage, ...]
    probabilities: npt.NDArray[np.float32]
    detections: tuple[Detection, ...]

    def type_probabilities(self, n_types: int) -> npt.NDArray[np.float32]:
        """Document-level probability per type: its best passage (0 for an empty document)."""
        if not self.passages:
            return np.zeros(n_types, dtype=np.float32)
        best: npt.NDArray[np.float32] = self.probabilities.max(axis=0)
        return best


def default_artifact_path() -> Path:
    return Path(str(resources.files("models") / "artifacts" / "head.json"))


def profile_fingerprint(profile: Profile) -> str:
    """SHA-256 of the profile's event types and definitions: what the labels mean."""
    spec = [[t.name, t.definition] for t in profile.event_types]
    return hashlib.sha256(json.dumps(spec, ensure_ascii=True).encode()).hexdigest()


_CACHE: dict[tuple[str, str, int], EventModel] = {}
_CACHE_LOCK = threading.Lock()


class EventModel:
    """Classifies documents into the profile's event types. Build it with :meth:`load`."""

    def __init__(
        self,
        *,
        head: Head,
        artifact_sha256: str,
        profile: Profile,
        encoder: Encoder,
        extractor: Extractor,
        passage_config: PassageConfig | None = None,
    ) -> None:
        if set(head.types) != set(profile.type_names):
            raise ArtifactError(
                f"artifact types {sorted(head.types)} differ from profile {profile.name!r} "
                f"types {sorted(profile.type_names)}"
            )
        self.head = head
        self.profile = profile
        self.encoder = encoder
        self.extractor = extractor
        self.passage_config = passage_config or PassageConfig()
        self.passages_total = 0  # passages encoded so far, for the service's metrics
        self.model_version = (
            f"{ENCODER_NAME}@{encoder.fingerprint[:8]}+head@{artifact_sha256[:12]}"
            f"+{profile.name}@{profile_fingerprint(profile)[:8]}"
        )

    @classmethod
    def load(
        cls,
        profile: Profile | None = None,
        artifact_path: Path | None = None,
        *,
        num_threads: int | None = None,
    ) -> EventModel:
        """The model for ``profile`` and ``artifact_path``, built once per process and reused."""
        prof = profile or load_profile()
        path = (artifact_path or default_artifact_path()).resolve()
        whole_profile = hashlib.sha256(prof.model_dump_json().encode()).hexdigest()
        key = (str(path), whole_profile, num_threads or 0)
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls._build(prof, path, num_threads)
            return _CACHE[key]

    @classmethod
    def _build(cls, profile: Profile, path: Path, num_threads: int | None) -> EventModel:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"cannot read head artifact {path}: {exc}") from exc
        head = Head.from_json(raw.decode("ascii", errors="replace"))
        return cls(
            head=head,
            artifact_sha256=hashlib.sha256(raw).hexdigest(),
            profile=profile,
            encoder=Encoder(num_threads=num_threads, adapter=head.adapter),
            extractor=Extractor.from_profile(profile),
        )

    @property
    def types(self) -> tuple[str, ...]:
        return self.head.types

    def analyse(self, docs: Sequence[Document]) -> list[Analysis]:
        """Passages, probabilities and detections of each document (no field extraction)."""
        split = [split_passages(d.text, d.title, self.passage_config) for d in docs]
        texts = [p.text for passages in split for p in passages]
        self.passages_total += len(texts)
        embeddings = passage_embeddings(self.encoder, split)
        with torch_threads(self.encoder.num_threads):  # the neighbour vote runs in torch too
            probs = self.head.probabilities(embeddings, texts)
        out: list[Analysis] = []
        offset = 0
        for passages in split:
            mine = probs[offset : offset + len(passages)]
            offset += len(passages)
            out.append(Analysis(tuple(passages), mine, self._detect(passages, mine)))
        return out

    def classify(self, docs: Sequence[Document]) -> list[list[Event]]:
        """Events of each document, in document order."""
        return [
            [self._event(doc, d) for d in analysis.detections]
            for doc, analysis in zip(docs, self.analyse(docs), strict=True)
        ]

    def _detect(
        self, passages: Sequence[Passage], probs: npt.NDArray[np.float32]
    ) -> tuple[Detection, ...]:
        found: list[Detection] = []
        for j, name in enumerate(self.head.types):
            hits = np.flatnonzero(probs[:, j] >= self.head.thresholds[j])
            candidates = [Detection(name, float(probs[i, j]), passages[int(i)]) for i in hits]
            found.extend(_merge(candidates))
        order = {name: j for j, name in enumerate(self.head.types)}
        return tuple(sorted(found, key=lambda d: (d.passage.start, d.passage.end, order[d.type])))

    def _event(self, doc: Document, detection: Detection) -> Event:
        p = detection.passage
        if p.in_title:  # evidence is the title; its fields come from the title alone
            fields = self.extractor.extract(p.text, 0, len(p.text), detection.type)
        else:
            fields = self.extractor.extract(doc.text, p.start, p.end, detection.type)
        return Event(
            type=detection.type,
            confidence=round(min(max(detection.confidence, 0.0), 1.0), 4),
            evidence=p.text,
            start=p.start,
            end=p.end,
            **fields.as_event_fields(),
        )


def _merge(candidates: list[Detection]) -> list[Detection]:
    """Keep the most confident of overlapping same-type detections; title only as a fallback."""
    body = [c for c in candidates if not c.passage.in_title]
    if not body:
        return candidates[:1]
    kept: list[Detection] = []
    for cand in sorted(body, key=lambda c: (-c.confidence, c.passage.start)):
        if all(_disjoint(cand.passage, k.passage) for k in kept):
            kept.append(cand)
    return kept


def _disjoint(a: Passage, b: Passage) -> bool:
    return a.end <= b.start or b.end <= a.start
