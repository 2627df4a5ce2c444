"""What every `mbert train` command does first: lock the run, check and write config.yaml (and seed).

The pre-trainer that stages build is `mbert_cli.modeling.pretrainer`.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import tensorflow as tf

from mbert_cli.config import load_run_config, save_run_config
from mbert_cli.config.run import RunConfig
from mbert_cli.errors import MbertError
from mbert_cli.training.run_dir import RunLock


def check_run_config(run: Path, cfg: RunConfig) -> None:
    """Refuses to mix two different models in one run folder (runs/NAME/config.yaml names the model)."""
    path = Path(run) / "config.yaml"
    if path.is_file():
        old = load_run_config(path)
        if old.encoder != cfg.encoder:
            diff = [k for k in vars(cfg.encoder) if getattr(cfg.encoder, k) != getattr(old.encoder, k)]
            raise MbertError(f"{run} already holds a {old.preset} model that differs from this one "
                             f"({', '.join(f'encoder.{k}' for k in diff[:4])})",
                             hint="use a new --run folder, or the same preset and --set values as before")


def write_run_config(run: Path, cfg: RunConfig) -> None:
    """Writes runs/NAME/config.yaml, after the same check as `check_run_config`."""
    check_run_config(run, cfg)
    save_run_config(cfg, Path(run) / "config.yaml")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


def weights_digest(model) -> str:
    """sha256 over every weight of `model` (in order): equal digests = identical weights."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(w.tobytes())
    return h.hexdigest()[:16]


class RunGuard:
    """The run lock for the chief, and config.yaml: checked on entry, written by `save_config` once the
    stage's task has filled in what its data decides (classes, task). Other workers of a multi-worker
    run write nothing."""

    def __init__(self, run: Path, cfg: RunConfig, is_chief: bool):
        self.run, self.cfg, self.is_chief = Path(run), cfg, is_chief
        self.lock = RunLock(self.run) if is_chief else None

    def __enter__(self) -> RunGuard:
        if self.lock is not None:
            self.lock.__enter__()
            try:
                check_run_config(self.run, self.cfg)
            except BaseException:
                self.lock.__exit__(None, None, None)
                raise
        return self

    def save_config(self) -> None:
        if self.lock is not None:
            write_run_config(self.run, self.cfg)

    def __exit__(self, *exc) -> bool:
        if self.lock is not None:
            self.lock.__exit__(*exc)
        return False
