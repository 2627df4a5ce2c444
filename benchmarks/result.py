"""The one benchmark result type, shared by the host and device runners, with a JSON form.

Every number a reader needs to trust a latency figure travels with it: which file (sha256),
where it ran (host, phone, or the loopback stand-in), with which settings, on which
software, and how much of the graph the delegate really ran.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from mbert_cli.errors import MbertError

# Bump the major number when a field changes meaning; readers refuse other majors.
SCHEMA_VERSION = "1.1"  # 1.1: per-length fields (seq_len, signature) and task_lengths


@dataclass
class ModelInfo:
    """The benchmarked file: identity (sha256) and what the export manifest says it is."""

    path: str
    name: str
    size_bytes: int
    sha256: str
    mode: str | None = None
    seq_len: int | None = None

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


@dataclass
class RunnerInfo:
    """Where the model ran: `host`, or a device serial with its profile (loopback flagged)."""

    kind: str  # "host" | "device"
    serial: str | None = None
    profile: str | None = None
    loopback: bool = False
    device_model: str | None = None

    @property
    def label(self) -> str:
        """Short name for tables and file names; loopback results say so explicitly."""
        if self.kind == "host":
            return "host"
        name = f"{self.profile or 'device'}:{self.serial}"
        return f"{name} (loopback)" if self.loopback else name


@dataclass
class Settings:
    """What was asked for: thread count, delegate and the run budget."""

    threads: int
    delegate: str
    warmup_runs: int
    runs: int
    min_seconds: float = 0.0
    op_profiling: bool = False


@dataclass
class LatencyStats:
    """Per-inference latency over all measured runs, in milliseconds.

    Percentiles are None when the source did not report them (benchmark_model prints only
    count/min/max/avg/std, plus median in newer builds); never guessed.
    """

    count: int
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class MemoryInfo:
    """Memory footprint in MB; `scope` says whose: the benchmark tool or this whole process."""

    init_delta_mb: float | None = None
    overall_delta_mb: float | None = None
    peak_mb: float | None = None
    scope: str = "tool"


@dataclass
class Coverage:
    """How much of the graph a delegate ran; None counts mean the runner could not tell."""

    delegate: str | None = None
    delegated_nodes: int | None = None
    total_nodes: int | None = None
    partitions: int | None = None

    @property
    def fraction(self) -> float | None:
        if self.delegated_nodes is None or not self.total_nodes:
            return None
        return self.delegated_nodes / self.total_nodes

    @property
    def partial(self) -> bool:
        """True when a delegate is known to have taken some but not all nodes (or none)."""
        frac = self.fraction
        return frac is not None and frac < 1.0


@dataclass
class Environment:
    """The machine and runtime the numbers came from."""

    cpu_model: str | None = None
    cores: int | None = None
    os: str | None = None
    android_version: str | None = None
    android_build: str | None = None
    device_model: str | None = None
    abi: str | None = None
    runtime_name: str | None = None
    runtime_version: str | None = None
    python: str | None = None


@dataclass
class BuildInfo:
    """Which mbert produced the numbers (as MLCommons records the harness commit)."""

    mbert_version: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None


class _JsonRecord:
    """JSON round trip shared by the top-level records (schema version checked on read)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        _check_schema(data)
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclass
class BenchResult(_JsonRecord):
    """One model on one runner: timings, footprint, coverage, and their context."""

    model: ModelInfo
    runner: RunnerInfo
    settings: Settings
    inference: LatencyStats
    init_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_mean_ms: float | None = None
    memory: MemoryInfo = field(default_factory=MemoryInfo)
    coverage: Coverage = field(default_factory=Coverage)
    environment: Environment = field(default_factory=Environment)
    build: BuildInfo = field(default_factory=BuildInfo)
    thermal_before: dict[str, Any] = field(default_factory=dict)
    thermal_after: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    command: str | None = None
    samples_ms: list[float] = field(default_factory=list)
    created_at: str | None = None
    schema_version: str = SCHEMA_VERSION
    # With `--seq-len`: the tokens this inference ran at, the length asked for (smaller
    # when served by a longer bucket), and the signature that ran.
    seq_len: int | None = None
    requested_seq_len: int | None = None
    signature: str | None = None


@dataclass
class TaskLengths:
    """The latency a request from a task sees: each request served by the smallest
    fitting length, over the task's own length distribution, beside the fixed-length file."""

    model: str
    data: str
    requests: int
    token_p50: float
    token_p90: float
    truncated: int  # requests longer than the longest length (served by it, truncated)
    served: dict[str, int]  # length -> requests it served
    p50_ms: float
    p90_ms: float
    fixed_seq_len: int
    fixed_p50_ms: float
    fixed_p90_ms: float

    @property
    def p50_ratio(self) -> float:
        return self.p50_ms / self.fixed_p50_ms if self.fixed_p50_ms else float("nan")


@dataclass
class Failure:
    """A target (device or model) that produced no result, and why, in the user's words."""

    target: str
    message: str
    hint: str | None = None


@dataclass
class BenchReport(_JsonRecord):
    """Everything one `mbert bench` call produced: results in order, plus failures."""

    results: list[BenchResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. which benchmark_model ran on each device
    created_at: str | None = None
    schema_version: str = SCHEMA_VERSION
    task_lengths: list[TaskLengths] = field(default_factory=list)


def _check_schema(data: dict[str, Any]) -> None:
    version = str(data.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise MbertError(
            f"benchmark JSON has schema version {version or 'none'}, this mbert reads {SCHEMA_VERSION}",
            hint="re-run `mbert bench` with this version, or read the file with the mbert that wrote it",
        )


def _build(cls: type, data: Any) -> Any:
    """Rebuilds nested dataclasses from plain JSON values; unknown keys are ignored (forward compat)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value) if len(args) == 1 else value
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return [_convert(item, v) for v in value]
    if dataclasses.is_dataclass(tp):
        return _build(tp, value)
    return value
