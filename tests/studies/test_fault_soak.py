"""The fault soak: kill points are drawn as documented; a small soak ends equal to the uninterrupted chain."""

from __future__ import annotations

import pytest

from studies.fault_soak import draw_kills, soak


def test_kill_points_are_spread_over_the_chain_by_duration_and_mix_both_signals():
    durations = {"teacher": 10.0, "student": 20.0, "finetune": 30.0, "export": 40.0}
    kills = draw_kills(400, durations, seed=0)
    assert len(kills) == 400
    per = {name: [t for c, t, _ in kills if c == name] for name in durations}
    assert all(0.5 <= t <= durations[name] for name, ts in per.items() for t in ts)
    # Uniform over the 100 s time line: about 10/20/30/40 % of the points per command.
    assert [round(len(per[n]) / 400, 1) for n in durations] == [0.1, 0.2, 0.3, 0.4]
    assert sorted(s for _, _, s in kills) == ["SIGKILL"] * 200 + ["SIGTERM"] * 200
    assert kills == sorted(kills, key=lambda k: (list(durations).index(k[0]), k[1]))  # chain order, then time
    assert draw_kills(10, durations, seed=0) == draw_kills(10, durations, seed=0) != draw_kills(10, durations, seed=1)


@pytest.mark.slow
def test_small_soak_ends_equal_to_the_uninterrupted_chain(tmp_path):
    report = soak(tmp_path, kills=3, seed=3, log=lambda *_: None)
    faulted, reference = report["faulted"], report["reference"]
    reruns = sum(k["exit_code"] not in (None, 0) for k in faulted["kills"])
    assert report["kills_landed"] >= 2 and reruns >= 2 and faulted["runs"] == reference["runs"] + reruns
    assert faulted["finetune_digest"] == reference["finetune_digest"] is not None
    assert faulted["files"] == reference["files"] and len(reference["files"]) == 2
    assert all(f["accuracy"] is not None for f in reference["files"].values())
    assert report["equal"]
