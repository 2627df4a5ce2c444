"""Host runner on tiny real .tflite models: interleaving, counts, stats order, coverage."""

from __future__ import annotations

import pytest

from benchmarks.host import HostSettings, run_host
from mbert_cli.errors import MbertError


def _ordered(stats):
    return stats.min_ms <= stats.p50_ms <= stats.p90_ms <= stats.p99_ms <= stats.max_ms


def test_two_models_interleaved(tiny_models):
    results = run_host(tiny_models, HostSettings(threads=1, runs=30, warmup=3))
    assert [r.model.name for r in results] == ["tiny-small", "tiny-large"]
    for r in results:
        s = r.inference
        assert s.count == 30 == len(r.samples_ms)
        assert _ordered(s) and s.min_ms <= s.mean_ms <= s.max_ms and s.std_ms >= 0
        assert r.init_ms > 0 and r.first_inference_ms > 0 and r.warmup_mean_ms > 0
        assert r.runner.kind == "host" and r.settings.delegate == "xnnpack" and r.settings.threads == 1
        assert r.model.mode == "float32" and r.model.seq_len == 16
        assert r.environment.runtime_name and r.environment.cores >= 1
        assert r.build.mbert_version
        assert r.memory.scope == "process" and r.memory.peak_mb > 0
    # Round robin: every model got the same number of timed runs.
    assert results[0].inference.count == results[1].inference.count


def test_xnnpack_coverage_counts_nodes(tiny_models):
    (r,) = run_host(tiny_models[1:], HostSettings(runs=3, warmup=0))
    c = r.coverage
    # The tiny encoder has 15 builtin nodes; XNNPACK takes all but the two GATHERs.
    assert c.total_nodes == 15 and c.delegated_nodes == 13 and c.partitions >= 1
    assert c.partial and any("XNNPACK ran 13/15" in w for w in r.warnings)


def test_builtin_kernels_without_xnnpack(tiny_models):
    (r,) = run_host(tiny_models[:1], HostSettings(runs=5, warmup=1, xnnpack=False))
    assert r.settings.delegate == "cpu" and r.coverage.delegate is None and not r.coverage.partial
    assert r.inference.count == 5


def test_min_seconds_extends_runs(tiny_models):
    (r,) = run_host(tiny_models[:1], HostSettings(runs=1, warmup=0, min_seconds=0.2))
    assert r.inference.count > 1  # one run of the tiny model takes microseconds
    assert sum(r.samples_ms) > 0


def test_two_threads_blocks_count_exactly(tiny_models):
    # 7 runs in blocks of 5: the last turn is cut to 2, re-warm runs are not counted.
    results = run_host(tiny_models, HostSettings(threads=2, runs=7, warmup=1, block_runs=5))
    assert all(r.settings.threads == 2 and r.inference.count == 7 for r in results)


def test_truncated_model_fails_with_one_line(tiny_models, tmp_path):
    cut = tmp_path / "cut.tflite"
    data = tiny_models[1].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MbertError, match="could not load .*cut.tflite") as info:
        run_host([tiny_models[0], cut], HostSettings(runs=2))
    assert "truncated or corrupt" in info.value.hint


def test_bad_settings(tiny_models):
    with pytest.raises(MbertError, match="runs and threads"):
        run_host(tiny_models, HostSettings(runs=0))
    with pytest.raises(MbertError, match="no model given"):
        run_host([], HostSettings())
