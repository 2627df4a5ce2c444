"""Runs ai-edge-litert's own Python benchmark tool with valid inputs, as a reference.

`benchmark_litert_model.py` fills int32 inputs with values in [-128, 127], which makes an
embedding GATHER fail ("gather index out of bounds"); this wrapper swaps its input filler
for one writing ids in [0, 2) and float ones, the inputs the host runner feeds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging


def litert_tool_latency(model: str, threads: int = 1, runs: int = 50, warmup: int = 5, signature: str = "") -> dict:
    """Returns the tool's `latency` dict (avg_ms, median_ms, min_ms, ...) for `model`
    (`signature`: which one the tool runs; default its first)."""
    import numpy as np
    from ai_edge_litert.tools import benchmark_litert_model as tool

    def fill_valid(buffer, details):
        dtype = tool.get_numpy_dtype(details.get("dtype", "float32"))
        shape = details.get("shape", [1])
        if np.issubdtype(dtype, np.integer):
            data = np.random.default_rng(0).integers(0, 2, size=shape).astype(dtype)
        else:
            data = np.ones(shape, dtype=dtype)
        buffer.write(data)

    args = argparse.Namespace(
        model=str(model), signature=signature, use_cpu=True, no_cpu=False, use_gpu=False, use_npu=False,
        require_full_delegation=False, dispatch_library_path="", compiler_plugin_path="", runtime_path="",
        num_runs=runs, warmup_runs=warmup, num_threads=threads, result_json="", verbose=False,
    )
    original = tool.fill_random_input
    tool.fill_random_input = fill_valid
    level = tool.logger.level
    tool.logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            results = tool.run_benchmark(args)
    finally:
        tool.fill_random_input = original
        tool.logger.setLevel(level)
    return results["latency"]
