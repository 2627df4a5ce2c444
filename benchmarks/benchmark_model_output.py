"""Parser for the stdout of TFLite's C++ `benchmark_model` tool.

The tool's log is the only interface it has; this turns it into numbers (microseconds as
printed) and turns its failure logs into one MbertError naming the cause, so the user
does not have to read the log to find out why a phone run failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from benchmarks.result import Coverage, LatencyStats, MemoryInfo
from mbert_cli.errors import MbertError

# Lines may carry a log prefix: "INFO: ", "ERROR: ", or logcat's "I tflite  : ".
_PREFIX = r"^(?:[A-Z]+:\s+|[VDIWEF] tflite\s*:\s+)?"
_NUM = r"(-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?)"

_TIMINGS = re.compile(
    r"Inference timings in us:\s*Init:\s*" + _NUM + r",\s*First inference:\s*" + _NUM
    + r",\s*Warmup \(avg\):\s*" + _NUM + r",\s*Inference \(avg\):\s*" + _NUM)
_COUNT = re.compile(_PREFIX + r"count=(\d+)((?:\s+\w+=" + _NUM + r")*)\s*$", re.M)
_KV = re.compile(r"(\w+)=" + _NUM)
# Newer builds print a delta from tool start; TF <= 2.3 printed "Peak memory footprint (MB): init=.. overall=..".
_MEM_DELTA = re.compile(r"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\):\s*init=" + _NUM
                        + r"\s+overall=" + _NUM)
_MEM_PEAK = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring:\s*" + _NUM)
_REPLACING = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]*)\) node,"
                        r" yielding (\d+) partitions?")
_MODEL_SIZE = re.compile(r"The input model file size \(MB\):\s*" + _NUM)
_COMPLETE = re.compile(r"model graph will be completely executed by the delegate")
_PARTIAL = re.compile(r"model graph will be partially executed by the delegate")


class BenchmarkModelError(MbertError):
    """benchmark_model ran but failed; the message names the cause found in its log."""


@dataclass
class RunStats:
    """One `count=N first=.. curr=.. min=.. max=.. avg=.. std=..` line, in microseconds."""

    count: int
    first: float | None = None
    curr: float | None = None
    min: float | None = None
    max: float | None = None
    avg: float | None = None
    std: float | None = None
    p5: float | None = None
    median: float | None = None
    p95: float | None = None


@dataclass
class Replacement:
    """One "Replacing N out of M node(s) with delegate (D) node, yielding K partitions" line."""

    delegate: str
    replaced: int
    total: int
    partitions: int


@dataclass
class BenchmarkModelOutput:
    """What one successful benchmark_model run printed (times in microseconds)."""

    init_us: float
    first_inference_us: float
    warmup_avg_us: float
    inference_avg_us: float
    warmup: RunStats | None = None
    runs: RunStats | None = None
    init_memory_mb: float | None = None
    overall_memory_mb: float | None = None
    peak_memory_mb: float | None = None
    model_size_mb: float | None = None
    replacements: list[Replacement] = field(default_factory=list)
    completely_delegated: bool = False
    partially_delegated: bool = False

    def latency_stats(self) -> LatencyStats:
        """Run statistics in ms; p50 only when the tool printed a median (p90/p99 never)."""
        r = self.runs
        if r is None:
            return LatencyStats(count=0, mean_ms=self.inference_avg_us / 1e3, std_ms=0.0,
                                min_ms=self.inference_avg_us / 1e3, max_ms=self.inference_avg_us / 1e3)
        ms = lambda v: None if v is None else v / 1e3  # noqa: E731
        return LatencyStats(count=r.count, mean_ms=ms(r.avg), std_ms=ms(r.std) or 0.0, min_ms=ms(r.min),
                            max_ms=ms(r.max), p50_ms=ms(r.median))

    def memory(self) -> MemoryInfo:
        return MemoryInfo(init_delta_mb=self.init_memory_mb, overall_delta_mb=self.overall_memory_mb,
                          peak_mb=self.peak_memory_mb, scope="tool")

    def coverage(self, delegate: str) -> Coverage:
        """Coverage of the requested delegate ('gpu', 'nnapi', 'xnnpack'; 'cpu' has none)."""
        if delegate == "cpu":
            return Coverage(delegate=None)
        key = {"gpu": "gpu", "nnapi": "nnapi", "xnnpack": "xnnpack"}.get(delegate, delegate).lower()
        matching = [r for r in self.replacements if key in r.delegate.lower()]
        if matching:
            # The primary subgraph is reported first; later lines are control-flow subgraphs.
            r = matching[0]
            return Coverage(delegate=r.delegate, delegated_nodes=r.replaced, total_nodes=r.total,
                            partitions=r.partitions)
        if self.completely_delegated and not self.partially_delegated:
            return Coverage(delegate=delegate, partitions=1)
        return Coverage(delegate=delegate)


# (pattern, message, hint): the first pattern found in a failed run's log names the cause.
_FAILURES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"inaccessible or not found|No such file or directory.*benchmark_model|benchmark_model: not found"),
     "benchmark_model binary not found on the device",
     "pass --benchmark-binary PATH (an arm64 build from the TFLite releases) so mbert pushes it"),
    (re.compile(r"Permission denied"),
     "the device refused to run benchmark_model (permission denied)",
     "the binary must sit under /data/local/tmp and be executable; let mbert push it"),
    (re.compile(r"No space left on device"),
     "the device ran out of storage",
     "free space under /data/local/tmp on the device, then retry"),
    (re.compile(r"gather index out of bounds"),
     "the model failed at run time: GATHER index out of bounds (an input id is outside the vocabulary)",
     "feed valid ids: int32 inputs must be < vocab size (benchmark_model: --input_layer_value_range)"),
    (re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'"),
     "the benchmark_model build does not support op {0} version {1}",
     "use a benchmark_model built from the same TensorFlow/LiteRT release as the converter"),
    (re.compile(r"Encountered unresolved custom op: (\w+)"),
     "the model needs custom op {0}, which a stock runtime lacks",
     "re-export without Flex/Select TF ops (see `mbert export`), or use a Flex-enabled benchmark_model"),
    (re.compile(r"(?:Failed to mmap model|Could not open '?([^'\n]*)|Failed to load model|"
                r"model is not a valid Flatbuffer|The model is not a valid)"),
     "benchmark_model could not load the model",
     "check the file is a complete .tflite (re-export or re-push it)"),
    (re.compile(r"(GPU|NNAPI|Hexagon|XNNPACK) acceleration is unsupported on this platform", re.I),
     "the {0} delegate is not available in this benchmark_model build or on this device",
     "use --delegate xnnpack or cpu, or a benchmark_model built with that delegate"),
    (re.compile(r"Failed to (?:apply|create) (\w+) delegate", re.I),
     "the {0} delegate could not be applied",
     "the device or build lacks it; retry with --delegate xnnpack or cpu"),
    (re.compile(r"Node number \d+ \((\w+)\) failed to (?:invoke|prepare)"),
     "the model failed at run time in op {0}",
     "check the model runs on the host first: `mbert bench MODEL --device host`"),
    (re.compile(r"Failed to allocate tensors|failed to allocate", re.I),
     "benchmark_model could not allocate the model's tensors",
     "the device may be out of memory, or input shapes are invalid"),
    (re.compile(r"Failed to invoke"),
     "the model failed at run time (invoke failed)",
     "check the model runs on the host first: `mbert bench MODEL --device host`"),
]


def parse_benchmark_output(stdout: str, stderr: str = "", exit_code: int = 0) -> BenchmarkModelOutput:
    """Parses one run's output; raises BenchmarkModelError naming the cause on failure.

    Args:
        stdout: what benchmark_model printed on stdout.
        stderr: its stderr (logs go there on some builds); searched for causes too.
        exit_code: the process exit status; non-zero without a known cause is still an error.
    """
    text = f"{stdout}\n{stderr}"
    timings = _TIMINGS.search(text)
    if exit_code != 0 or timings is None or "Benchmarking failed" in text:
        raise _failure(text, exit_code, timings is None)
    init, first, warm, inf = (float(g) for g in timings.groups())
    # Only count lines before the summary are run statistics; op profiling prints more after.
    counts = [_run_stats(m) for m in _COUNT.finditer(text, 0, timings.start())]
    warmup = runs = None
    if len(counts) >= 2:
        warmup, runs = counts[-2], counts[-1]
    elif counts:
        runs = counts[0]
    out = BenchmarkModelOutput(init_us=init, first_inference_us=first, warmup_avg_us=warm,
                               inference_avg_us=inf, warmup=warmup, runs=runs)
    if m := _MEM_DELTA.search(text):
        out.init_memory_mb, out.overall_memory_mb = (_nonneg(g) for g in m.groups())
    if m := _MEM_PEAK.search(text):
        out.peak_memory_mb = _nonneg(m.group(1))
    if m := _MODEL_SIZE.search(text):
        out.model_size_mb = float(m.group(1))
    out.replacements = [Replacement(d, int(n), int(t), int(k)) for n, t, d, k in _REPLACING.findall(text)]
    out.completely_delegated = bool(_COMPLETE.search(text))
    out.partially_delegated = bool(_PARTIAL.search(text))
    return out


def _run_stats(m: re.Match[str]) -> RunStats:
    values = {k: float(v) for k, v in _KV.findall(m.group(2))}
    known = {k: values.get(k) for k in ("first", "curr", "min", "max", "avg", "std", "p5", "median", "p95")}
    return RunStats(count=int(m.group(1)), **known)


def _nonneg(v: str) -> float | None:
    # The tool prints -1 (or negative deltas) when it cannot measure memory on a platform.
    f = float(v)
    return f if f >= 0 else None


def _failure(text: str, exit_code: int, no_timings: bool) -> BenchmarkModelError:
    for pattern, message, hint in _FAILURES:
        if m := pattern.search(text):
            groups = [g for g in m.groups() if g is not None]
            return BenchmarkModelError(message.format(*groups) if groups else message, hint=hint)
    last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "no output")
    what = f"exited with code {exit_code}" if exit_code else "printed no inference timings"
    return BenchmarkModelError(f"benchmark_model {what}; last line: {last[:200]}",
                               hint="run it by hand with the same flags to see the full log")
