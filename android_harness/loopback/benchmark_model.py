"""Stand-in for TFLite's `benchmark_model` on the loopback device.

Accepts the real tool's flags, runs the model with the host's LiteRT runtime
(`mbert_cli.runtime.load_runtime`) and prints the real tool's log lines, so the parser
and the device path are exercised without a phone. The timings are host timings;
GPU/NNAPI delegation is simulated: the model runs on the CPU and the delegate line
reports a partial graph for the GPU so partial delegation can be tested.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time

import numpy as np

from mbert_cli.runtime import load_runtime

# Flags of the real tool this stand-in understands: name -> default.
FLAGS = {
    "graph": "", "num_threads": "-1", "warmup_runs": "1", "num_runs": "50",
    "min_secs": "1", "max_secs": "150", "warmup_min_secs": "0.5", "run_delay": "-1",
    "use_xnnpack": "", "use_gpu": "false", "use_nnapi": "false",
    "report_peak_memory_footprint": "false", "enable_op_profiling": "false",
    # Shapes and signatures, as the real tool takes them: `--input_layer=a,b
    # --input_layer_shape=1,32:1,32` resizes the named inputs; `--signature_to_run_for=seq32`
    # runs that signature's subgraph.
    "input_layer": "", "input_layer_shape": "", "signature_to_run_for": "",
}
# Ops the simulated GPU delegate refuses, so a BERT-like graph is only partly delegated.
GPU_UNSUPPORTED = {"GATHER", "EMBEDDING_LOOKUP", "CAST", "GATHER_ND", "ONE_HOT", "CUSTOM"}


def log(level: str, text: str, runtime: bool = False) -> None:
    """Prints like the real tool: its own INFO/WARNING lines on stdout, ERROR lines and
    the TFLite runtime's messages (delegates, partitioning) on stderr."""
    stream = sys.stderr if runtime or level == "ERROR" else sys.stdout
    print(f"{level}: {text}", file=stream, flush=True)


def parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    values, unconsumed = {}, []
    for arg in argv:
        name, eq, value = arg.lstrip("-").partition("=")
        if arg.startswith("--") and name in FLAGS:
            values[name] = value if eq else "true"
        else:
            unconsumed.append(arg)
    return values, unconsumed


def truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


def fail(text: str) -> int:
    log("ERROR", text)
    log("ERROR", "Benchmarking failed.")
    return 1


def stats_line(samples_us: list[float]) -> str:
    std = statistics.pstdev(samples_us) if len(samples_us) > 1 else 0.0
    return (f"count={len(samples_us)} first={int(samples_us[0])} curr={int(samples_us[-1])} "
            f"min={int(min(samples_us))} max={int(max(samples_us))} "
            f"avg={statistics.fmean(samples_us):g} std={int(std)}")


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_loop(invoke, min_runs: int, min_secs: float, max_secs: float) -> list[float]:
    """Runs at least min_runs and at least min_secs, like the real tool."""
    samples: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        invoke()
        samples.append((time.perf_counter() - t0) * 1e6)
        elapsed = time.perf_counter() - start
        if (len(samples) >= min_runs and elapsed >= min_secs) or elapsed >= max_secs:
            return samples


def delegate_partition(ops: list[dict], use_gpu: bool) -> tuple[int, int]:
    """(delegated nodes, partitions) for the simulated GPU delegate."""
    supported = [op.get("op_name") not in GPU_UNSUPPORTED for op in ops]
    if all(supported) and len(supported) > 1:
        supported[0] = False  # always leave a piece on the CPU: the partial path is the point
    partitions, prev = 0, False
    for s in supported:
        partitions += s and not prev
        prev = s
    return sum(supported), partitions


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    argv0 = os.environ.get("MBERT_ARGV0", "benchmark_model")
    if "missing_binary" in os.environ.get("MBERT_LOOPBACK_FAULTS", "").split(","):
        print(f"/system/bin/sh: {argv0}: not found", file=sys.stderr, flush=True)
        return 127
    mem_start = max_rss_mb()
    flags, unconsumed = parse(argv)
    get = lambda name: flags.get(name, FLAGS[name])  # noqa: E731
    log("INFO", "STARTING!")
    if unconsumed:
        log("WARNING", f"Unconsumed cmdline flags: {' '.join(unconsumed)}")
    log("INFO", "Log parameter values verbosely: [0]")
    labels = {"num_runs": "Min num runs", "num_threads": "Num threads",
              "warmup_runs": "Min warmup runs", "graph": "Graph",
              "enable_op_profiling": "Enable op profiling", "use_gpu": "Use gpu",
              "use_nnapi": "Use NNAPI", "use_xnnpack": "Use xnnpack",
              "report_peak_memory_footprint": "Report the peak memory footprint",
              "input_layer": "Input layers", "input_layer_shape": "Input shapes",
              "signature_to_run_for": "Signature to run"}
    for name, label in labels.items():
        if name in flags:
            value = flags[name]
            shown = ("1" if truthy(value) else "0") if name.startswith(("use_", "enable_", "report_")) else value
            log("INFO", f"{label}: [{shown}]")
    graph = get("graph")
    if not graph:
        return fail("Please specify the name of your TF Lite input file with --graph")
    try:
        threads = int(get("num_threads"))
        warmup_runs, num_runs = int(get("warmup_runs")), int(get("num_runs"))
        min_secs, max_secs = float(get("min_secs")), float(get("max_secs"))
        warmup_min_secs = float(get("warmup_min_secs"))
    except ValueError as exc:
        return fail(f"Invalid flag value: {exc}")
    use_gpu, use_nnapi = truthy(get("use_gpu")), truthy(get("use_nnapi"))
    use_xnnpack = truthy(get("use_xnnpack")) if "use_xnnpack" in flags else True
    if threads > 0:
        log("INFO", f"#threads used for CPU inference: [{threads}]")
    if not os.path.isfile(graph):
        log("ERROR", f"Could not open '{graph}'.", runtime=True)
        return fail(f"Failed to mmap model {graph}")

    runtime = load_runtime()
    log("INFO", f"Loopback device (mbert): host CPU with {runtime.name} {runtime.version}, "
                "not a phone.")
    t_init = time.perf_counter()
    try:
        interp = runtime.interpreter(graph, num_threads=threads if threads > 0 else None,
                                     xnnpack=use_xnnpack and not (use_gpu or use_nnapi))
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid model"
        log("ERROR", "The model is not a valid Flatbuffer buffer" if "lat" in first or
            "Model provided" in first or "Could not open" in first else first)
        return fail(f"Failed to mmap model {graph}")
    log("INFO", f"Loaded model {graph}")
    log("INFO", "Initialized TensorFlow Lite runtime.", runtime=True)
    ops = interp._get_ops_details() if hasattr(interp, "_get_ops_details") else []  # noqa: SLF001 - LiteRT has no public op list
    total = len(ops)
    if use_gpu:
        log("INFO", "Created TensorFlow Lite delegate for GPU.", runtime=True)
        log("INFO", "GPU delegate created.")
        done, parts = delegate_partition(ops, True)
        log("INFO", f"Replacing {done} out of {total} node(s) with delegate "
                    f"(TfLiteGpuDelegateV2) node, yielding {parts} partitions for the whole graph.", runtime=True)
        log("INFO", "Initialized OpenCL-based API.", runtime=True)
        log("INFO", f"Created {parts} GPU delegate kernels.", runtime=True)
        log("INFO", "Though GPU delegate is explicitly applied, the model graph will not be "
                    "executed by the delegate.")
    elif use_nnapi:
        log("INFO", "Created TensorFlow Lite delegate for NNAPI.", runtime=True)
        log("INFO", "NNAPI delegate created.")
        log("INFO", f"Replacing {total} out of {total} node(s) with delegate "
                    "(TfLiteNnapiDelegate) node, yielding 1 partitions for the whole graph.", runtime=True)
        log("INFO", "Explicitly applied NNAPI delegate, and the model graph will be "
                    "completely executed by the delegate.")
    elif use_xnnpack:
        log("INFO", "Created TensorFlow Lite XNNPACK delegate for CPU.", runtime=True)
        log("INFO", "XNNPACK delegate created.")
        log("INFO", f"Replacing {total} out of {total} node(s) with delegate "
                    "(TfLiteXNNPackDelegate) node, yielding 1 partitions for the whole graph.", runtime=True)
        log("INFO", "Explicitly applied XNNPACK delegate, and the model graph will be "
                    "completely executed by the delegate.")
    try:
        invoke = _prepare(interp, get("input_layer"), get("input_layer_shape"), get("signature_to_run_for"))
    except ValueError as exc:
        return fail(str(exc))
    init_us = (time.perf_counter() - t_init) * 1e6
    mem_init = max_rss_mb() - mem_start
    log("INFO", f"The input model file size (MB): {os.path.getsize(graph) / 1e6:g}")
    log("INFO", f"Initialized session in {init_us / 1000:.3f}ms.")
    log("INFO", f"Running benchmark for at least {warmup_runs} iterations and at least "
                f"{warmup_min_secs:g} seconds but terminate if exceeding {max_secs:g} seconds.")
    warm = run_loop(invoke, warmup_runs, warmup_min_secs, max_secs)
    log("INFO", stats_line(warm))
    print(flush=True)
    log("INFO", f"Running benchmark for at least {num_runs} iterations and at least "
                f"{min_secs:g} seconds but terminate if exceeding {max_secs:g} seconds.")
    runs = run_loop(invoke, num_runs, min_secs, max_secs)
    log("INFO", stats_line(runs))
    print(flush=True)
    if truthy(get("enable_op_profiling")):
        log("INFO", "Operator-wise profiling is not available on the loopback device.")
    log("INFO", f"Inference timings in us: Init: {int(init_us)}, First inference: "
                f"{int(warm[0])}, Warmup (avg): {statistics.fmean(warm):g}, "
                f"Inference (avg): {statistics.fmean(runs):g}")
    log("INFO", "Note: as the benchmark tool itself affects memory footprint, the following "
                "is only APPROXIMATE to the actual memory footprint of the model at runtime. "
                "Take the information at your discretion.")
    mem_overall = max_rss_mb() - mem_start
    log("INFO", f"Memory footprint delta from the start of the tool (MB): "
                f"init={mem_init:g} overall={mem_overall:g}")
    if truthy(get("report_peak_memory_footprint")):
        log("INFO", f"Overall peak memory footprint (MB) via periodic monitoring: "
                    f"{max_rss_mb():g}")
    return 0


def _prepare(interp, layers: str, shapes: str, signature: str):
    """Applies --input_layer(_shape) and --signature_to_run_for, fills inputs; returns invoke.

    Errors use the real tool's wording, so the parser sees what a phone would print.
    """
    if signature:
        if signature not in interp.get_signature_list():
            raise ValueError(f"Cannot find the signature key {signature} in the model.")
        runner = interp.get_signature_runner(signature)
        rng = np.random.default_rng(0)
        feeds = {name: _value(np, rng, d["dtype"], d["shape"]) for name, d in runner.get_input_details().items()}
        runner(**feeds)  # allocates and sets the signature's inputs once, as the tool does
        wrapper, index = runner._interpreter_wrapper, runner._subgraph_index  # noqa: SLF001
        return lambda: wrapper.Invoke(index)
    names = [n for n in layers.split(",") if n] if layers else []
    dims = [d for d in shapes.split(":") if d] if shapes else []
    if len(names) != len(dims):
        raise ValueError(f"The number of input layers ({len(names)}) and input layer shapes ({len(dims)}) "
                         "do not match.")
    if names:
        by_name = {d["name"]: d for d in interp.get_input_details()}
        for name, dim in zip(names, dims, strict=True):
            if name not in by_name:
                raise ValueError(f"Cannot find the corresponding input_layer name({name}) in the model.")
            try:
                shape = [int(x) for x in dim.split(",")]
            except ValueError:
                raise ValueError(f"Invalid input layer shape '{dim}' for {name}.") from None
            interp.resize_tensor_input(by_name[name]["index"], shape, strict=False)
        interp.allocate_tensors()
    _fill_inputs(interp)
    return interp.invoke


def _value(np, rng, dtype, shape):
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 2, size=shape).astype(dtype)
    if dtype == np.bool_:
        return np.zeros(shape, dtype)
    return np.ones(shape, dtype)


def _fill_inputs(interp) -> None:
    """Valid small ids (0 or 1) for integer inputs, 1.0 for floats."""
    rng = np.random.default_rng(0)
    for detail in interp.get_input_details():
        dtype, shape = detail["dtype"], detail["shape"]
        if np.issubdtype(dtype, np.integer):
            value = rng.integers(0, 2, size=shape).astype(dtype)
        elif dtype == np.bool_:
            value = np.zeros(shape, dtype)
        else:
            value = np.ones(shape, dtype)
        interp.set_tensor(detail["index"], value)


if __name__ == "__main__":
    raise SystemExit(main())
