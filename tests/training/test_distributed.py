"""Two local MultiWorkerMirrored workers on 127.0.0.1: identical weights, and a SIGTERM to one
worker stops both at the same step, saved there, from which the rerun resumes exactly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[2]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_finish_with_identical_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    sets = []
    for item in TINY:
        sets += ["--set", item]
    procs = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        cmd = [sys.executable, "-m", "mbert_cli.cli.app", "train", "teacher", "--run", str(tmp_path / "t"),
               "--distribution", "multiworker", "--steps", "6", "--no-progress", *sets]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
        outs.append(json.loads(out[out.index("{"):]))
    assert outs[0]["steps"] == outs[1]["steps"] == 6
    assert outs[0]["weights_sha256"] == outs[1]["weights_sha256"]
    # Only the chief (worker 0) wrote the run folder.
    assert (tmp_path / "t" / "teacher" / "checkpoints" / "ckpt-6.index").exists()


@pytest.mark.slow
def test_mirrored_strategy_runs(tmp_path):
    from typer.testing import CliRunner

    from mbert_cli.cli.app import app

    sets = []
    for item in TINY:
        sets += ["--set", item]
    result = CliRunner().invoke(app, ["train", "teacher", "--run", str(tmp_path / "m"), "--distribution", "mirrored",
                                      "--steps", "4", "--no-progress", *sets])
    assert result.exit_code == 0, result.output + result.stderr
    assert (tmp_path / "m" / "teacher" / "checkpoints" / "ckpt-4.index").exists()


# Dropout off (its masks are not replayed on resume), so equal weights prove the exact data
# order; no periodic checkpoint before the end, so a saved step can only be the stop's.
STOP_SETS = ["data.corpus=synthetic", "data.seq_len=32", "data.max_predictions_per_seq=5", "encoder.num_layers=2",
             "encoder.hidden_dropout=0.0", "train.batch_size=8", "train.log_every=1",
             "train.checkpoint_every=1000", "train.eval_steps=1", "train.steps=60"]


def _start_workers(run: Path) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    sets = [a for s in STOP_SETS for a in ("--set", s)]
    procs = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        cmd = [sys.executable, "-m", "mbert_cli.cli.app", "train", "teacher", "--run", str(run),
               "--distribution", "multiworker", "--no-progress", *sets]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return procs


def _finish(procs, timeout: float = 300) -> list[tuple[str, str, int]]:
    """(stdout, stderr, exit code) of each worker, in order."""
    return [(*p.communicate(timeout=timeout), p.returncode) for p in procs]


def _summaries(results) -> list[dict]:
    for out, err, rc in results:
        assert rc == 0, out + err
    return [json.loads(out[out.index("{"):]) for out, _, _ in results]


def _logged_step(metrics: Path) -> int:
    try:
        lines = metrics.read_text().splitlines()
    except OSError:
        return 0
    return max((json.loads(ln).get("step", 0) for ln in lines[-3:] if ln.strip().endswith("}")), default=0)


def test_the_stop_vote_reports_the_signal_sigterm_first():
    """One process (default strategy): the same all-reduce and decoding the workers use."""
    from mbert_cli.training.distribute import make_distribution, make_stop_vote

    vote = make_stop_vote(make_distribution("default"))
    assert [vote(0), vote(signal.SIGINT), vote(signal.SIGTERM)] == [0, signal.SIGINT, signal.SIGTERM]


# Three two-worker runs (six TensorFlow processes starting up): slow on 2 cores.
@pytest.mark.slow
def test_sigterm_to_one_worker_stops_both_at_one_saved_step_and_the_rerun_matches(tmp_path):
    from mbert_cli.training.checkpoints import checkpoint_step, latest_checkpoint

    reference = _summaries(_finish(_start_workers(tmp_path / "full")))
    assert reference[0]["weights_sha256"] == reference[1]["weights_sha256"]

    run = tmp_path / "t"
    procs = _start_workers(run)
    deadline = time.time() + 240
    while time.time() < deadline and all(p.poll() is None for p in procs) and \
            _logged_step(run / "teacher" / "metrics.jsonl") < 5:
        time.sleep(0.05)
    assert all(p.poll() is None for p in procs), _finish(procs)
    signalled = time.time()
    procs[1].send_signal(signal.SIGTERM)  # the non-chief: the chief, which writes the files, hears it only by vote
    results = _finish(procs, timeout=120)
    stop_seconds = time.time() - signalled
    saved = []
    for out, err, rc in results:
        assert rc == 143, out + err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith(
            "Terminated (SIGTERM): stopped cleanly; rerun the same command to resume. Checkpoint saved at step "), err
        saved.append(int(lines[0].split("at step ")[1].rstrip(".")))
    assert saved[0] == saved[1] and 5 <= saved[0] < 60, saved  # one agreed step, not a periodic checkpoint
    assert checkpoint_step(latest_checkpoint(run / "teacher" / "checkpoints")) == saved[0]
    records = [json.loads(ln) for ln in (run / "teacher" / "metrics.jsonl").read_text().splitlines()]
    stop = [r for r in records if r["kind"] == "stop"]
    assert [r["step"] for r in stop] == saved[:1] and stop[0]["stopped"] == "SIGTERM"
    print(f"coordinated stop at step {saved[0]}: saved {stop[0]['time'] - signalled:.2f} s after the SIGTERM, "
          f"both workers exited after {stop_seconds:.2f} s")

    resumed = _summaries(_finish(_start_workers(run)))
    assert resumed[0]["resumed_from"] == resumed[1]["resumed_from"] == saved[0]
    assert resumed[0]["weights_sha256"] == resumed[1]["weights_sha256"] == reference[0]["weights_sha256"]
