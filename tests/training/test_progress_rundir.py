"""Progress lines without a terminal, the run lock, metrics.jsonl (no TensorFlow needed for most)."""

from __future__ import annotations

import io
import json

import pytest

from mbert_cli.errors import MbertError
from mbert_cli.training.progress import Progress
from mbert_cli.training.run_dir import MetricsLog, RunLock, StageDir


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(log_every=5, stream=out)
    p.start("layer_1", 10, 20, 12)
    for step in range(13, 21):
        p.update(step, {"loss": 1.5})
    p.stop()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[layer_1] steps 12..20"
    assert [ln.split()[2] for ln in lines[1:]] == ["15/20", "20/20"]
    assert "loss 1.5" in lines[-1] and "eta" in lines[-1]


def test_lock_is_exclusive_and_released(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(MbertError, match="being written by another mbert command"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released on exit
        pass


def test_metrics_jsonl_lines(tmp_path):
    stage = StageDir(tmp_path, "teacher").make()
    log = MetricsLog(stage)
    log.log(20, {"loss": 1.25, "lr": 0.01}, phase="teacher")
    log.log(20, {"mlm_accuracy": 0.5}, kind="eval", phase="teacher")
    log.close()
    rows = [json.loads(x) for x in stage.metrics.read_text().splitlines()]
    assert rows[0]["kind"] == "train" and rows[0]["loss"] == 1.25 and rows[0]["step"] == 20
    assert rows[1]["kind"] == "eval" and rows[1]["stage"] == "teacher"
    assert list(stage.tensorboard.glob("events.out.tfevents.*"))


def test_default_stage_skips_a_stage_folder_without_a_saved_checkpoint(tmp_path):
    """A fine-tune stopped before its first save leaves an empty checkpoints/ folder: the run's
    default stage is still the student that has one."""
    from mbert_cli.training.checkpoints import default_stage

    (tmp_path / "student" / "checkpoints").mkdir(parents=True)
    (tmp_path / "student" / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (tmp_path / "finetune-classification" / "checkpoints").mkdir(parents=True)
    assert default_stage(tmp_path) == "student"
    (tmp_path / "finetune-classification" / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    assert default_stage(tmp_path) == "finetune-classification"
