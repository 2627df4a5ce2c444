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

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from benchmarks.environment import build_info, host_environment
from benchmarks.model_file import describe_model
from benchmarks.result import BenchResult, Coverage, MemoryInfo, RunnerInfo, Settings
from benchmarks.stats import latency_stats
from converters.lengths import bucket_for
from mbert_cli.errors import MbertError, first_line
from mbert_cli.runtime import load_runtime

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
    # Sequence lengths to measure each model at (None: the file's own shape). A file with
    # one signature per length serves each request with its smallest fitting signature; a
    # dynamic file is resized to the exact length; a fixed file serves lengths up to its own.
    seq_lens: tuple[int, ...] | None = None


@dataclass(frozen=True)
class LengthTarget:
    """One (model, length) measurement: which signature runs, at which length."""

    signature: str | None  # None: the file's first signature (or its graph inputs)
    seq_len: int | None  # tokens the inference runs at (None: the file's own shape)
    requested: int | None = None  # the length asked for (<= seq_len when padded to a bucket)
    resize: bool = False  # a dynamic signature resized to seq_len


def signature_lengths(interp: Any) -> dict[str, int | None]:
    """Signature key -> the sequence length it takes (None: a resizable [1, -1] input)."""
    out: dict[str, int | None] = {}
    for key in interp.get_signature_list():
        details = interp.get_signature_runner(key).get_input_details()
        ids = details.get("input_word_ids") or next(iter(details.values()))
        shape = [int(x) for x in ids.get("shape_signature", ids["shape"])]
        out[key] = None if len(shape) < 2 or shape[1] < 0 else shape[1]
    return out


def plan_lengths(path: str, lengths: dict[str, int | None], requested: Sequence[int],
                 max_len: int | None) -> list[LengthTarget]:
    """Which signature serves each requested length; a length no signature holds is an error.

    Args:
        path: the file (for messages).
        lengths: signature_lengths() of the file.
        requested: lengths to measure.
        max_len: a dynamic file's position-table size (from its manifest), if known.
    """
    dynamic = [k for k, n in lengths.items() if n is None]
    fixed = {n: k for k, n in lengths.items() if n is not None}
    targets = []
    for n in requested:
        if dynamic:
            if max_len is not None and n > max_len:
                raise MbertError(f"--seq-len {n} is beyond the position table of {path} ({max_len} positions)",
                                 hint=f"measure lengths up to {max_len}")
            targets.append(LengthTarget(dynamic[0], n, n, resize=True))
            continue
        bucket = bucket_for(n, sorted(fixed))
        if bucket is None:
            longest = max(fixed) if fixed else 0
            raise MbertError(f"--seq-len {n} is longer than {path} serves (its longest length is {longest})",
                             hint=f"measure lengths up to {longest}, or export with --seq-len "
                                  f"{','.join(map(str, sorted({*fixed, n})))}")
        targets.append(LengthTarget(fixed[bucket], bucket, n))
    return targets


class _Loaded:
    """One model's interpreter, prepared inputs, and a timed invoke."""

    def __init__(self, path: str, settings: HostSettings, runtime: Any, np: Any,
                 target: LengthTarget | None = None):
        self.path = path
        self.target = target or LengthTarget(None, None)
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        try:
            content = _signature_first(path, self.target.signature, runtime)
            self.interp = runtime.interpreter(None if content else path, model_content=content,
                                              num_threads=settings.threads, xnnpack=settings.xnnpack)
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise MbertError(f"LiteRT could not load {path}: {first_line(err)}",
                             hint="the file is truncated or corrupt, or uses ops this runtime lacks; re-export it") from None
        signatures = self.interp.get_signature_list()
        if signatures:
            key = self.target.signature or next(iter(signatures))
            self.runner = self.interp.get_signature_runner(key)
            details = self.runner.get_input_details()
            if self.target.resize:
                details = {name: {**d, "shape": [d["shape"][0], self.target.seq_len, *d["shape"][2:]]}
                           for name, d in details.items()}
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
            raise MbertError(f"inference failed for {self.path}: {first_line(err)}",
                             hint="check the model's inputs (int32 ids, float mask) and ops") from None


def run_host(models: Sequence[str | Path], settings: HostSettings | None = None,
             lengths_per_model: Sequence[Sequence[int] | None] | None = None) -> list[BenchResult]:
    """Benchmarks `models` in one interleaved run on this machine.

    Args:
        models: .tflite paths; all are checked before any runs, so a bad file fails fast.
        settings: threads, run budget, XNNPACK on/off, lengths (`seq_lens`).
        lengths_per_model: per model, the lengths to measure it at (overrides `seq_lens`;
            None entries: the file's own shape). All (model, length) pairs run interleaved.

    Returns:
        One BenchResult per model, in the given order.
    """
    settings = settings or HostSettings()
    if not models:
        raise MbertError("no model given", hint="pass one or more .tflite files")
    if settings.runs < 1 or settings.warmup < 0 or settings.threads < 1:
        raise MbertError("runs and threads must be >= 1 and warmup >= 0", hint="e.g. --runs 50 --warmup 5 --threads 1")
    infos = [describe_model(m) for m in models]
    runtime = load_runtime()
    per_model = list(lengths_per_model) if lengths_per_model is not None else [settings.seq_lens] * len(infos)
    plans = []
    for info, lengths in zip(infos, per_model, strict=True):
        if not lengths:
            plans.append((info, None))
            continue
        sigs = signature_lengths(runtime.interpreter(info.path, xnnpack=False))
        plans.extend((info, t) for t in plan_lengths(info.path, sigs, lengths, info.seq_len))
    loaded = [_Loaded(info.path, settings, runtime, np, target) for info, target in plans]

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
    for (info, _t), m, f, w, s in zip(plans, loaded, first, warm, samples, strict=True):
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
            samples_ms=[round(x, 4) for x in s], created_at=created, seq_len=m.target.seq_len,
            requested_seq_len=m.target.requested, signature=m.target.signature,
        ))
    return results


def _signature_first(path: str, key: str | None, runtime: Any) -> bytes | None:
    """The file with `key`'s subgraph moved to index 0, or None when it already is.

    The Python interpreter lists nodes (and so delegate coverage) of subgraph 0 only; with
    the measured signature first, coverage is that signature's. The copy holds the same
    graphs and buffers, only renumbered.
    """
    if key is None:
        return None
    probe = runtime.interpreter(path, xnnpack=False)
    index = probe._interpreter.GetSubgraphIndexFromSignature(key)  # noqa: SLF001 - no public form
    if index == 0:
        return None
    content = Path(path).read_bytes()
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    order = [index] + [i for i in range(len(model.subgraphs)) if i != index]
    model.subgraphs = [model.subgraphs[i] for i in order]
    for sig in model.signatureDefs or []:
        sig.subgraphIndex = order.index(sig.subgraphIndex)
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


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
