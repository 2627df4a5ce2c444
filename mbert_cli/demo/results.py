"""What each demo stage returns: small typed records the ledger keeps as JSON.

The summary is built from these, never from a stage's log files, and a resumed demo reads
them back from the ledger for the stages it skips. Accuracies are fractions (0..1);
latencies are milliseconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from benchmarks.result import TaskLengths


class Result:
    """JSON round trip for the flat records; records with nested parts override `from_json`."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]):
        return cls(**data)


@dataclass(frozen=True)
class Trained(Result):
    """A pre-trained, distilled or imported model (nothing downstream reads more than that it exists)."""

    steps: int | None = None  # None for an import


@dataclass(frozen=True)
class Finetuned(Result):
    """A fine-tune's final evaluation on the whole validation split (TensorFlow)."""

    accuracy: float
    examples: int
    steps: int


@dataclass(frozen=True)
class Baseline(Result):
    """The TF-IDF + LinearSVC baseline on the same split."""

    accuracy: float
    validation_examples: int
    train_examples: int


@dataclass(frozen=True)
class ExportedFile(Result):
    """One TFLite file the export wrote, with its export-time accuracy check (whole split)."""

    model: str  # "teacher" or "student"
    path: str  # resolved
    mode: str  # none | dynamic | float16 | int8
    size_bytes: int
    seq_lens: tuple[int, ...]  # the fixed lengths it serves (one for a single-length file)
    parameters: int  # the encoder's
    accuracy_tf: float | None
    accuracy_tflite: float | None
    gate_failures: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportedFile:
        return cls(**{**data, "seq_lens": tuple(data["seq_lens"]), "gate_failures": tuple(data["gate_failures"])})


@dataclass(frozen=True)
class Exported(Result):
    """The files of both exports: the teacher's first (its float32 is the ratio base), then the student's."""

    files: tuple[ExportedFile, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exported:
        return cls(tuple(ExportedFile.from_json(f) for f in data["files"]))

    def parameters(self, model: str) -> int:
        return next(f.parameters for f in self.files if f.model == model)


@dataclass(frozen=True)
class FileLatency(Result):
    """One file's latency at its longest length; `task`: a multi-length file over the task's lengths."""

    path: str  # resolved, as in ExportedFile
    p50_ms: float | None
    p90_ms: float | None
    mean_ms: float
    task: TaskLengths | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileLatency:
        task = data.get("task")
        return cls(**{**data, "task": TaskLengths(**task) if task else None})


@dataclass(frozen=True)
class Benched(Result):
    """Latency per file on one runner (host or loopback device); `skipped`: the runner was turned off."""

    files: tuple[FileLatency, ...] = ()
    skipped: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Benched:
        return cls(tuple(FileLatency.from_json(f) for f in data["files"]), data["skipped"])

    def of(self, path: str) -> FileLatency | None:
        return next((f for f in self.files if f.path == path), None)
