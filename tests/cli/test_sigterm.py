"""SIGTERM (scheduler, spot machine, `docker stop`) is a clean stop, like Ctrl-C, saved at the current step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mbert_cli import interrupts

ROOT = Path(__file__).resolve().parents[2]
# Dropout off: its masks are not replayed on resume, so equal weights then prove the exact data order.
TINY = ["data.corpus=synthetic", "data.seq_len=32", "data.max_predictions_per_seq=5", "encoder.num_layers=2",
        "encoder.hidden_dropout=0.0", "train.batch_size=8", "train.log_every=1", "train.checkpoint_every=1000",
        "train.eval_steps=1", "train.steps=80"]


@pytest.fixture(autouse=True)
def _default_handlers():
    """Python's own handlers, however the test runner was started (CI may ignore SIGINT)."""
    saved = {s: signal.signal(s, h) for s, h in ((signal.SIGINT, signal.default_int_handler),
                                                  (signal.SIGTERM, signal.SIG_DFL))}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def test_sigterm_outside_the_loop_raises_at_once_and_reports_143():
    with interrupts.catching_stop_signals():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        with pytest.raises(interrupts.StopRequested) as stop:
            signal.raise_signal(signal.SIGTERM)
    assert stop.value.signum == signal.SIGTERM and stop.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command


def test_inside_the_loop_the_first_signal_waits_for_the_step_boundary_a_second_forces():
    with interrupts.catching_stop_signals():
        interrupts.deferring(True)
        signal.raise_signal(signal.SIGTERM)  # no raise: the loop checks at its next boundary
        with pytest.raises(interrupts.StopRequested) as stop:
            interrupts.check()
        assert stop.value.at_boundary
        with pytest.raises(interrupts.StopRequested) as forced:
            signal.raise_signal(signal.SIGTERM)  # a second signal does not wait
        assert not forced.value.at_boundary
        interrupts.deferring(False)


def test_rearm_takes_the_handler_back_from_a_library_that_replaced_it():
    with interrupts.catching_stop_signals():
        ours = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as MultiWorkerMirroredStrategy's C++ handler does
        interrupts.rearm()
        assert signal.getsignal(signal.SIGTERM) is ours
        interrupts.deferring(True)
        signal.raise_signal(signal.SIGTERM)  # would end the test process without ours
        assert interrupts.requested() == signal.SIGTERM
        interrupts.deferring(False)
    interrupts.rearm()  # outside a command: nothing to take back
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_ignored_sigterm_stays_ignored():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with interrupts.catching_stop_signals():
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}


def _args(run: Path) -> list[str]:
    sets = [a for s in TINY for a in ("--set", s)]
    return [sys.executable, "-m", "mbert_cli.cli.app", "train", "teacher", "--run", str(run), "--no-progress", *sets]


def _logged_step(metrics: Path) -> int:
    try:
        lines = metrics.read_text().splitlines()
    except OSError:
        return 0
    steps = [json.loads(ln).get("step", 0) for ln in lines[-3:] if ln.strip().endswith("}")]
    return max(steps, default=0)


@pytest.mark.slow
def test_sigterm_mid_training_saves_that_step_and_the_rerun_ends_like_an_uninterrupted_run(tmp_path):
    full = subprocess.run(_args(tmp_path / "full"), cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert full.returncode == 0, full.stderr
    reference = json.loads(full.stdout[full.stdout.index("{"):])

    run = tmp_path / "t"
    proc = subprocess.Popen(_args(run), cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    metrics = run / "teacher" / "metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _logged_step(metrics) < 10:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "Terminated (SIGTERM): stopped cleanly; rerun the same command to resume. Checkpoint saved at step ")
    saved = int(lines[0].split("at step ")[1].rstrip("."))
    assert 10 <= saved < 80  # the step reached, not a periodic checkpoint (every 1000)
    from mbert_cli.training.checkpoints import checkpoint_step, latest_checkpoint

    assert checkpoint_step(latest_checkpoint(run / "teacher" / "checkpoints")) == saved
    again = subprocess.run(_args(run), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout[again.stdout.index("{"):])
    assert resumed["resumed_from"] == saved
    assert resumed["weights_sha256"] == reference["weights_sha256"]


def _bare_python_seconds() -> float:
    """Start-up and exit of a bare interpreter on this machine now (median of three)."""
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return sorted(times)[1]


@pytest.mark.slow
def test_a_stopped_fine_tune_exits_promptly_after_its_checkpoint_line(tmp_path):
    """After the stop line only exiting is left: no teardown of TensorFlow's objects (which
    took minutes on a loaded machine). Measured against a bare interpreter's start in the
    same test; the issue's own bound is 10 s after the checkpoint line."""
    teacher = [a if a != "train.steps=80" else "train.steps=2" for a in _args(tmp_path / "pre")]
    done = subprocess.run(teacher, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "ft"
    sets = ["finetune.steps=400", "finetune.batch_size=8", "train.log_every=1", "train.checkpoint_every=1000"]
    args = [sys.executable, "-m", "mbert_cli.cli.app", "train", "finetune", "--init", str(tmp_path / "pre" / "teacher"),
            "--run", str(run), "--no-progress", *[a for s in sets for a in ("--set", s)]]
    proc = subprocess.Popen(args, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    metrics = run / "finetune-classification" / "metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _logged_step(metrics) < 5:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    line, line_at = "", None
    for text in proc.stderr:
        if "stopped cleanly" in text:
            line, line_at = text, time.perf_counter()
            break
    assert line.startswith("Terminated (SIGTERM): stopped cleanly") and "Checkpoint saved at step" in line, line
    proc.wait(timeout=600)
    after_line = time.perf_counter() - line_at
    bare = _bare_python_seconds()
    print(f"checkpoint line -> exit {after_line:.2f} s; bare python start {bare:.2f} s")
    assert proc.returncode == 143
    assert after_line <= 10.0  # the requirement
    assert after_line <= 10 * bare  # no teardown left: a few interpreter starts at most
