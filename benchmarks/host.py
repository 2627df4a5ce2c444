"""Host latency with the LiteRT interpreter: several models interleaved round-robin.

Interleaving (in short blocks of runs) means a burst of machine noise (another process,
frequency scaling) lands on every model alike, so their ratios stay meaningful on a noisy
2-core box even when the absolute numbers wobble.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.environment import build_info, host_environment
from benchmarks.model_file import describe_model
from benchmarks.result import BenchResult, Coverage, MemoryInfo, RunnerInfo, Settings
from benchmarks.stats import latency_stats
from mbert_cli.errors import MbertError

# Any vocabulary has ids 0 and 1, so GATHER over an embedding table is always in range.
_ID_HIGH = 2
# Hard stop so a huge --min-seconds or slow model cannot hang a session (benchmark_model uses 150 s).
MAX_SECONDS = 150.0


@dataclass
class HostSettings:
    """How to run on the host; defaults follow benchmark_model's (50 runs, XNNPACK on)."""

    threads: int = 1
    runs: int = 50
    warmup: int = 5
    min_seconds: float = 0.0
    xnnpack: bool = True
    seed: int = 0
    # Consecutive runs per model per turn of the round robin.
    block_runs: int = 5
    # Pause before each turn; None: 20 ms with threads > 1, else 0. The previous model's
    # worker threads spin for a while after its last run and, on a small machine, steal the
    # next model's cores: measured on 2 cores, 2 threads, a 0.17 ms model read 0.46-0.50 ms
    # interleaved back to back, 0.17 ms with this pause.
    settle_ms: float | None = None


class _Loaded:
    """One model's interpreter, prepared inputs, and a timed invoke."""

    def __init__(self, path: str, settings: HostSettings, runtime: Any, np: Any):
        self.path = path
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        try:
            self.interp = runtime.interpreter(path, num_threads=settings.threads, xnnpack=settings.xnnpack)
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise MbertError(f"LiteRT could not load {path}: {_first_line(err)}",
                             hint="the file is truncated or corrupt, or uses ops this runtime lacks; re-export it") from None
        signatures = self.interp.get_signature_list()
        if signatures:
            key = next(iter(signatures))
            self.runner = self.interp.get_signature_runner(key)
            details = self.runner.get_input_details()
        else:
            # Models without signatures: fall back to the graph inputs, by tensor name.
            self.runner = None
            details = {d["name"]: d for d in self.interp.get_input_details()}
        self.inputs = {name: _fill(np, d, settings.seed) for name, d in details.items()}
        self._invoke = self._bind_invoke(details)
        self.init_ms = (time.perf_counter() - t0) * 1e3
        self.init_rss_delta_mb = _rss_mb() - rss0

    def _bind_invoke(self, details: dict[str, Any]) -> Callable[[], None]:
        """Sets inputs once, then times only Invoke (as benchmark_model does), not tensor copies."""
        if self.runner is None:
            for d in details.values():
                self.interp.set_tensor(d["index"], self.inputs[d["name"]])
            return self.interp.invoke
        self.runner(**self.inputs)  # sets inputs, resizes and allocates the signature's subgraph
        wrapper = getattr(self.runner, "_interpreter_wrapper", None)
        sub = getattr(self.runner, "_subgraph_index", None)
        if wrapper is not None and sub is not None:
            return lambda: wrapper.Invoke(sub)
        return lambda: self.runner(**self.inputs)

    def timed(self) -> float:
        try:
            t0 = time.perf_counter()
            self._invoke()
            return (time.perf_counter() - t0) * 1e3
        except (ValueError, RuntimeError) as err:
            raise MbertError(f"inference failed for {self.path}: {_first_line(err)}",
                             hint="check the model's inputs (int32 ids, float mask) and ops") from None


def run_host(models: Sequence[str | Path], settings: HostSettings | None = None) -> list[BenchResult]:
    """Benchmarks `models` in one interleaved run on this machine.

    Args:
        models: .tflite paths; all are checked before any runs, so a bad file fails fast.
        settings: threads, run budget, XNNPACK on/off.

    Returns:
        One BenchResult per model, in the given order.
    """
    import numpy as np  # noqa: PLC0415

    from mbert_cli.runtime import load_runtime  # noqa: PLC0415

    settings = settings or HostSettings()
    if not models:
        raise MbertError("no model given", hint="pass one or more .tflite files")
    if settings.runs < 1 or settings.warmup < 0 or settings.threads < 1:
        raise MbertError("runs and threads must be >= 1 and warmup >= 0", hint="e.g. --runs 50 --warmup 5 --threads 1")
    infos = [describe_model(m) for m in models]
    runtime = load_runtime()
    loaded = [_Loaded(info.path, settings, runtime, np) for info in infos]

    settle = (settings.settle_ms if settings.settle_ms is not None else (20.0 if settings.threads > 1 else 0.0)) / 1e3
    block = max(1, settings.block_runs)

    # After a pause the model's own sleeping workers must be woken, so its first run of a
    # turn is slow too: with threads > 1 that run is a re-warm, not a sample.
    rewarm = 1 if settle else 0

    def turn(m: _Loaded, n: int, skip: int = rewarm) -> list[float]:
        if settle:
            time.sleep(settle)
        for _ in range(skip if n else 0):
            m.timed()
        return [m.timed() for _ in range(n)]

    first = [turn(m, 1, skip=0)[0] for m in loaded]
    warm = [turn(m, settings.warmup) for m in loaded]

    samples: list[list[float]] = [[] for _ in loaded]
    start = time.perf_counter()
    while True:
        done = len(samples[0])
        # Stop at exactly `runs` unless --min-seconds asks for more time.
        n = min(block, settings.runs - done) if done < settings.runs else block
        for i, m in enumerate(loaded):
            samples[i].extend(turn(m, n))
        elapsed = time.perf_counter() - start
        enough = len(samples[0]) >= settings.runs and elapsed >= settings.min_seconds
        if enough or (elapsed >= MAX_SECONDS and len(samples[0]) >= 1):
            break

    env = host_environment(runtime.name, runtime.version)
    build = build_info()
    peak = _peak_rss_mb()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    run_settings = Settings(threads=settings.threads, delegate="xnnpack" if settings.xnnpack else "cpu",
                            warmup_runs=settings.warmup, runs=settings.runs, min_seconds=settings.min_seconds)
    results = []
    for info, m, f, w, s in zip(infos, loaded, first, warm, samples, strict=True):
        coverage = host_coverage(m.interp) if settings.xnnpack else Coverage(delegate=None)
        warnings = []
        if coverage.partial:
            warnings.append(f"XNNPACK ran {coverage.delegated_nodes}/{coverage.total_nodes} nodes "
                            f"in {coverage.partitions} partitions; the rest use builtin kernels")
        results.append(BenchResult(
            model=info, runner=RunnerInfo(kind="host"), settings=run_settings, inference=latency_stats(s),
            init_ms=m.init_ms, first_inference_ms=f, warmup_mean_ms=sum(w) / len(w) if w else None,
            # RSS is per process: init delta is this model's, peak is shared by every model in the run.
            memory=MemoryInfo(init_delta_mb=m.init_rss_delta_mb, peak_mb=peak, scope="process"),
            coverage=coverage, environment=env, build=build, warnings=warnings,
            samples_ms=[round(x, 4) for x in s], created_at=created,
        ))
    return results


def host_coverage(interp: Any) -> Coverage:
    """Counts nodes XNNPACK took, from the interpreter's node list; unknown if unavailable.

    After delegation the node list holds the original nodes plus one DELEGATE node per
    partition; a node was delegated when it lies between a DELEGATE node's inputs and
    outputs, which a walk back from the outputs finds.
    """
    try:
        ops = interp._get_ops_details()  # noqa: SLF001 - the only public-ish view of the plan
    except Exception:  # noqa: BLE001 - a runtime without it just means "unknown"
        return Coverage(delegate="xnnpack")
    delegates = [o for o in ops if o["op_name"] == "DELEGATE"]
    originals = [o for o in ops if o["op_name"] != "DELEGATE"]
    if not delegates:
        return Coverage(delegate="xnnpack", delegated_nodes=0, total_nodes=len(originals), partitions=0)
    producer = {int(t): o["index"] for o in originals for t in o["outputs"]}
    by_index = {o["index"]: o for o in originals}
    taken: set[int] = set()
    for d in delegates:
        boundary = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        seen: set[int] = set()
        while stack:
            t = stack.pop()
            if t in boundary or t in seen or t not in producer:
                continue
            seen.add(t)
            node = producer[t]
            if node not in taken:
                taken.add(node)
                stack.extend(int(x) for x in by_index[node]["inputs"] if int(x) >= 0)
    return Coverage(delegate="TfLiteXNNPackDelegate", delegated_nodes=len(taken), total_nodes=len(originals),
                    partitions=len(delegates))


def _fill(np: Any, detail: dict[str, Any], seed: int) -> Any:
    """Valid inputs by dtype: ids in [0, 2) for ints, 1.0 for float masks and features."""
    shape = [int(x) if x > 0 else 1 for x in detail["shape"]]
    dtype = np.dtype(detail["dtype"])
    if np.issubdtype(dtype, np.integer):
        return np.random.default_rng(seed).integers(0, _ID_HIGH, size=shape).astype(dtype)
    return np.ones(shape, dtype=dtype)  # float masks: attend everywhere; bool: True


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
