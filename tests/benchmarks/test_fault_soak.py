"""The fault soak: kill points are drawn as documented; a small soak ends equal to the uninterrupted chain."""

from __future__ import annotations

import pytest

from benchmarks.suite.fault_soak import draw_kills, soak


def test_kill_points_are_uniform_over_the_clock_and_mix_both_signals():
    kills = draw_kills(10, 60.0, seed=0)
    assert len(kills) == 10 and kills == sorted(kills)
    assert all(0.5 <= t <= 60.0 for t, _ in kills)
    assert sorted(s for _, s in kills) == ["SIGKILL"] * 5 + ["SIGTERM"] * 5
    assert draw_kills(10, 60.0, seed=0) == kills and draw_kills(10, 60.0, seed=1) != kills


@pytest.mark.slow
def test_small_soak_ends_equal_to_the_uninterrupted_chain(tmp_path):
    report = soak(tmp_path, kills=3, seed=3, log=lambda *_: None)
    faulted, reference = report["faulted"], report["reference"]
    reruns = sum(k["exit_code"] != 0 for k in faulted["kills"])
    assert len(faulted["kills"]) == 3 and faulted["runs"] == reference["runs"] + reruns
    assert faulted["finetune_digest"] == reference["finetune_digest"] is not None
    assert faulted["files"] == reference["files"] and len(reference["files"]) == 2
    assert all(f["accuracy"] is not None for f in reference["files"].values())
    assert report["equal"]
