"""The run directory: stage folders, the lock file, config.yaml and metrics.jsonl.

Layout (DESIGN.md):
    runs/NAME/config.yaml
    runs/NAME/.lock                       held (flock) while a command writes the run
    runs/NAME/data/pretrain/              prepared MLM+NSP TFRecords + meta.json
    runs/NAME/<stage>/checkpoints/        latest checkpoints (tf.train.CheckpointManager)
    runs/NAME/<stage>/checkpoints/best/   best checkpoint by the stage's eval metric
    runs/NAME/<stage>/tensorboard/        scalars
    runs/NAME/<stage>/metrics.jsonl       one JSON object per logged step / evaluation
<stage> is `teacher`, `student` or `finetune-<task>`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from mbert_cli.errors import MbertError
from mbert_cli.io_utils import atomic_write_text

STAGES_PRETRAIN = ("teacher", "student")


@dataclass(frozen=True)
class StageDir:
    """Paths of one stage of a run (`teacher`, `student`, `finetune-<task>`)."""

    run: Path
    name: str

    @property
    def path(self) -> Path:
        return self.run / self.name

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def best(self) -> Path:
        return self.path / "checkpoints" / "best"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    def make(self) -> StageDir:
        for p in (self.checkpoints, self.tensorboard):
            p.mkdir(parents=True, exist_ok=True)
        return self


def pretrain_data_dir(run: Path) -> Path:
    return Path(run) / "data" / "pretrain"


class RunLock:
    """An exclusive flock on runs/NAME/.lock: a second command on the same run stops at once.

    flock is released by the kernel when the process dies (even kill -9), so a crashed
    run never leaves a stale lock behind; the pid written inside is only for the message.
    """

    def __init__(self, run: Path):
        self.path = Path(run) / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise MbertError(f"{self.path.parent} is being written by another mbert command ({holder})",
                             hint="wait for it to finish, or use another --run folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


class MetricsLog:
    """Appends JSON lines to metrics.jsonl and writes the same scalars to TensorBoard.

    After a crash the steps since the last checkpoint are trained again, so a step may
    appear twice in metrics.jsonl; readers should keep the last entry per (stage, step).
    """

    def __init__(self, stage: StageDir, enabled: bool = True):
        self.enabled = enabled
        self._writer = None
        self._path = stage.metrics
        self._tb = stage.tensorboard

    def log(self, step: int, values: dict, kind: str = "train", phase: str | None = None) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), "kind": kind, "step": int(step)}
        if phase:
            record["stage"] = phase
        record.update({k: _plain(v) for k, v in values.items()})
        with open(self._path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self._scalars(step, values, kind)

    def _scalars(self, step: int, values: dict, kind: str) -> None:
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self._tb))
        with self._writer.as_default():
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    tf.summary.scalar(f"{kind}/{k}", float(v), step=int(step))
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _plain(v):
    if isinstance(v, float):
        return round(v, 6)
    return v


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
