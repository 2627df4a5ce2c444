"""`mbert train ...` and `mbert eval` through the Typer app: files, resume, NaN stop, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
TINY = ["data.corpus=synthetic", "data.task_data=synthetic", "data.seq_len=32", "data.max_predictions_per_seq=5",
        "encoder.num_layers=2", "train.batch_size=8", "distill.batch_size=8", "finetune.batch_size=8",
        "train.log_every=2", "train.checkpoint_every=4", "train.eval_steps=2"]


def _sets(*extra):
    out = []
    for item in TINY + list(extra):
        out += ["--set", item]
    return out


def _invoke(args, env=None):
    return runner.invoke(app, args, env=env)


def _error(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, (result.exit_code, result.output, result.stderr)
    assert lines and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "t"
    result = _invoke(["train", "teacher", "--preset", "nano-teacher", "--run", str(run), "--steps", "8",
                      "--no-progress"] + _sets())
    assert result.exit_code == 0, result.output + result.stderr
    return run


def test_teacher_writes_run_folder_and_resume_is_a_no_op(teacher):
    for path in ("config.yaml", "teacher/checkpoints/ckpt-8.index", "teacher/metrics.jsonl",
                 "teacher/checkpoints/best/best.json"):
        assert (teacher / path).exists(), path
    assert list((teacher / "teacher" / "tensorboard").glob("events.out.tfevents.*"))
    again = _invoke(["train", "teacher", "--run", str(teacher), "--steps", "8", "--no-progress"] + _sets())
    assert again.exit_code == 0 and "Resuming the teacher" in again.output


def test_nan_loss_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from tests.training.faults import nan_loss_at_step

    run = tmp_path / "nan"
    with monkeypatch.context() as patch:
        nan_loss_at_step(patch, 6)
        result = _invoke(["train", "teacher", "--run", str(run), "--steps", "12", "--no-progress"] + _sets())
    line = _error(result)
    assert "loss became nan at step 6" in line and "ckpt-4" in line
    assert "Hint:" in result.stderr and "learning rate" in result.stderr
    ckpts = run / "teacher" / "checkpoints"
    assert (ckpts / "ckpt-4.index").exists() and not (ckpts / "ckpt-8.index").exists()
    resumed = _invoke(["train", "teacher", "--run", str(run), "--steps", "12", "--no-progress"] + _sets())
    assert resumed.exit_code == 0, resumed.stderr
    assert "step 4/12" in resumed.output and (ckpts / "ckpt-12.index").exists()


def test_lock_stops_a_second_writer(tmp_path):
    from mbert_cli.training.run_dir import RunLock

    run = tmp_path / "locked"
    with RunLock(run):
        result = _invoke(["train", "teacher", "--run", str(run), "--steps", "2", "--no-progress"] + _sets())
    assert "being written by another mbert command" in _error(result)


def test_student_rejects_a_teacher_of_another_width(teacher, tmp_path):
    result = _invoke(["train", "student", "--teacher", str(teacher), "--run", str(tmp_path / "s"), "--no-progress"]
                     + _sets("encoder.hidden_size=32"))
    assert "feature-map width 64" in _error(result)


def test_student_needs_a_teacher_checkpoint(tmp_path, teacher):
    missing = _invoke(["train", "student", "--teacher", str(tmp_path / "nope"), "--run", str(tmp_path / "s")]
                      + _sets())
    assert "--teacher" in _error(missing) and "does not exist" in _error(missing)  # checked before any work
    empty = tmp_path / "empty"
    (empty).mkdir()
    (empty / "config.yaml").write_text((teacher / "config.yaml").read_text())
    result = _invoke(["train", "student", "--teacher", str(empty), "--run", str(tmp_path / "s")] + _sets())
    assert "no checkpoint for stage 'teacher'" in _error(result)


def test_corrupt_teacher_checkpoint_is_one_error(teacher, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(teacher, bad)
    for data in (bad / "teacher" / "checkpoints").glob("ckpt-8.data-*"):
        data.write_bytes(data.read_bytes()[:100])
    result = _invoke(["train", "student", "--teacher", str(bad), "--run", str(tmp_path / "s"), "--no-progress"]
                     + _sets())
    assert "cannot be read" in _error(result)


def test_data_whose_vocab_does_not_match_the_model(tmp_path):
    run = tmp_path / "v"
    data = run / "data" / "pretrain"
    data.mkdir(parents=True)
    (data / "meta.json").write_text(json.dumps({"format": "mbert-pretraining-v1", "seq_len": 32,
                                                "vocab": {"size": 4096}, "counts": {"train_examples": 10}}))
    result = _invoke(["train", "teacher", "--run", str(run), "--steps", "2", "--no-progress"]
                     + _sets("data.corpus=shipped", "encoder.vocab_size=2048"))
    assert "vocabulary of 4096 tokens but the model has 2048" in _error(result)


def test_empty_corpus_is_one_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = _invoke(["train", "teacher", "--run", str(tmp_path / "e"), "--steps", "2", "--no-progress"]
                     + _sets(f"data.corpus={empty}"))
    assert f"corpus {empty} is empty" in _error(result)
    assert not (tmp_path / "e" / "teacher").exists()  # stopped before any stage folder or model


def test_malformed_tf_config(tmp_path):
    result = _invoke(["train", "teacher", "--run", str(tmp_path / "m"), "--distribution", "multiworker",
                      "--steps", "2"] + _sets(), env={"TF_CONFIG": "{not json"})
    assert "TF_CONFIG is not valid JSON" in _error(result)
    result = _invoke(["train", "teacher", "--run", str(tmp_path / "m"), "--distribution", "multiworker",
                      "--steps", "2"] + _sets(), env={"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, '
                                                                   '"task": {"type": "worker", "index": 3}}'})
    assert "does not name a member" in _error(result)


def test_batch_must_divide_across_replicas():
    from types import SimpleNamespace

    from mbert_cli.errors import MbertError
    from mbert_cli.training.distribute import Distribution, check_batch

    dist = Distribution(SimpleNamespace(num_replicas_in_sync=2), "mirrored")
    assert check_batch(8, dist) == 4
    with pytest.raises(MbertError, match="not divisible by the 2 replicas"):
        check_batch(7, dist)


def test_student_finetune_eval(teacher, tmp_path):
    run = tmp_path / "s"
    student = _invoke(["train", "student", "--teacher", str(teacher), "--run", str(run), "--no-progress"]
                      + _sets("distill.steps_per_layer=2", "distill.pretrain_distill_steps=4"))
    assert student.exit_code == 0, student.output + student.stderr
    assert json.loads((run / "student" / "schedule.json").read_text())["current_stage"] == "finished"
    tune = _invoke(["train", "finetune", "--task", "classification", "--init", str(run / "student"), "--run",
                    str(run), "--no-progress"] + _sets("finetune.steps=6"))
    assert tune.exit_code == 0, tune.output + tune.stderr
    assert (run / "finetune-classification" / "checkpoints" / "ckpt-6.index").exists()
    ev = _invoke(["eval", "--run", str(run)])
    assert ev.exit_code == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert result["stage"] == "finetune-classification" and 0.0 <= result["accuracy"] <= 1.0
    ev = _invoke(["eval", "--run", str(run), "--stage", "student"])
    result = json.loads(ev.stdout)
    assert {"mlm_accuracy", "perplexity", "nsp_accuracy"} <= set(result)
    # Task distillation from the fine-tuned model just made.
    kd = _invoke(["train", "finetune", "--init", str(run / "student"), "--run", str(tmp_path / "kd"),
                  "--distill-from", str(run), "--no-progress"] + _sets("finetune.steps=4"))
    assert kd.exit_code == 0, kd.output + kd.stderr
    rows = [json.loads(x) for x in (tmp_path / "kd" / "finetune-classification" / "metrics.jsonl").read_text().splitlines()]
    assert any("kd" in r for r in rows if r["kind"] == "train")


def test_eval_without_a_checkpoint(tmp_path):
    (tmp_path / "r").mkdir()
    assert "no trained stage" in _error(_invoke(["eval", "--run", str(tmp_path / "r")]))


def _cli(*args):
    return [sys.executable, "-m", "mbert_cli.cli.app", *args]


def test_kill_9_inside_a_student_stage_then_rerun_continues(teacher, tmp_path):
    run = tmp_path / "k"
    args = _cli("train", "student", "--teacher", str(teacher), "--run", str(run),
                *_sets("distill.steps_per_layer=150", "distill.pretrain_distill_steps=0", "train.checkpoint_every=10",
                       "train.log_every=50"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    schedule = run / "student" / "schedule.json"
    deadline = time.time() + 240
    step = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            step = json.loads(schedule.read_text())["step"]
        except (OSError, ValueError):
            step = 0
        if step >= 170:  # inside layer_1 (steps 150..300)
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    from mbert_cli.training.checkpoints import checkpoint_step, latest_checkpoint

    last = checkpoint_step(latest_checkpoint(run / "student" / "checkpoints"))
    assert 170 <= last < 300
    again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"step {last}, stage layer_1" in again.stdout
    assert f"[layer_1] steps {last}..300" in again.stdout
    assert "[layer_0]" not in again.stdout  # no stage repeated
    assert json.loads(schedule.read_text())["current_stage"] == "finished"


def test_squad_finetune_and_eval(teacher, tmp_path):
    run = tmp_path / "q"
    tune = _invoke(["train", "finetune", "--task", "squad", "--init", str(teacher / "teacher"), "--run", str(run),
                    "--no-progress"] + _sets("data.task_data=shipped", "data.seq_len=64", "finetune.max_query_length=16",
                                             "finetune.max_examples=40", "finetune.steps=4"))
    assert tune.exit_code == 0, tune.output + tune.stderr
    ev = _invoke(["eval", "--run", str(run), "--task", "squad"])
    assert ev.exit_code == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert result["stage"] == "finetune-squad" and 0.0 <= result["f1"] <= 100.0 and result["questions"] == 40
