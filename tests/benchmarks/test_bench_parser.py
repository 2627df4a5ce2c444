"""benchmark_model stdout parser, on outputs in the real tool's format."""

from __future__ import annotations

import pytest

from benchmarks.benchmark_model_output import BenchmarkModelError, parse_benchmark_output


def test_cpu_legacy_output(fixture_text):
    out = parse_benchmark_output(fixture_text("cpu_legacy.txt"))
    assert (out.init_us, out.first_inference_us, out.warmup_avg_us, out.inference_avg_us) == (
        134716, 192345, 180212, 175127)
    assert out.warmup.count == 4 and out.runs.count == 50
    assert out.runs.min == 171876 and out.runs.max == 183210 and out.runs.std == 2121
    stats = out.latency_stats()
    assert stats.count == 50 and stats.mean_ms == pytest.approx(175.127)
    assert stats.p50_ms is None and stats.p90_ms is None  # the tool printed no percentiles
    assert (out.init_memory_mb, out.overall_memory_mb) == (102.34, 131.9)
    assert out.model_size_mb == 100.69
    assert out.coverage("cpu").delegate is None
    # No delegate line at all: coverage of an asked-for delegate is unknown, not 100%.
    assert out.coverage("xnnpack").fraction is None


def test_xnnpack_output_with_percentiles_and_memory(fixture_text):
    out = parse_benchmark_output(fixture_text("xnnpack.txt"))
    assert out.inference_avg_us == 61802.5
    assert out.warmup.median == 61980 and out.runs.median == 61655 and out.runs.p95 == 64210
    assert out.latency_stats().p50_ms == pytest.approx(61.655)
    mem = out.memory()
    assert (mem.init_delta_mb, mem.overall_delta_mb, mem.peak_mb) == (41.3398, 58.4531, 61.2148)
    cov = out.coverage("xnnpack")
    assert (cov.delegated_nodes, cov.total_nodes, cov.partitions) == (1108, 1135, 27)
    assert cov.partial and cov.delegate == "TfLiteXNNPackDelegate"


def test_partial_gpu_delegation_is_flagged(fixture_text):
    out = parse_benchmark_output(fixture_text("gpu_partial.txt"))
    cov = out.coverage("gpu")
    assert (cov.delegated_nodes, cov.total_nodes, cov.partitions) == (745, 1135, 48)
    assert cov.partial and cov.fraction == pytest.approx(745 / 1135)
    assert out.partially_delegated
    assert out.peak_memory_mb is None  # the tool printed -1: not measured
    assert out.init_us == 2312510


def test_op_profiling_tables_do_not_replace_run_stats(fixture_text):
    out = parse_benchmark_output(fixture_text("op_profiling.txt"))
    # The profiler's own "count=8120 ... avg=112.1" line comes after the summary; ignore it.
    assert out.runs.avg == 117.2 and out.warmup.avg == 118.4
    assert out.coverage("xnnpack").delegated_nodes == 13


@pytest.mark.parametrize("name, needle", [
    ("fail_gather.txt", "GATHER index out of bounds"),
    ("fail_load.txt", "could not load the model"),
    ("fail_gpu_unsupported.txt", "GPU delegate is not available"),
    ("fail_flex.txt", "custom op FlexEinsum"),
    ("fail_missing_binary.txt", "binary not found"),
])
def test_failures_name_the_cause(fixture_text, name, needle):
    with pytest.raises(BenchmarkModelError) as info:
        parse_benchmark_output(fixture_text(name), exit_code=1)
    assert needle in info.value.message
    assert info.value.hint


def test_nonzero_exit_with_unknown_log_is_still_an_error(fixture_text):
    with pytest.raises(BenchmarkModelError, match="exited with code 139"):
        parse_benchmark_output(fixture_text("xnnpack.txt").replace("Inference timings", "Inference tim"), "",
                               exit_code=139)


def test_output_without_timings_is_an_error():
    with pytest.raises(BenchmarkModelError, match="printed no inference timings"):
        parse_benchmark_output("INFO: STARTING!\nsomething odd\n")


def test_errors_found_on_stderr(fixture_text):
    with pytest.raises(BenchmarkModelError, match="GATHER"):
        parse_benchmark_output("", stderr=fixture_text("fail_gather.txt"), exit_code=1)
