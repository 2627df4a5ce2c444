"""What both fine-tuning tasks share: `--init` checks, AdamW, starting from a pre-trained stage.

Starts from a pre-trained stage (`--init runs/NAME/student` or `.../teacher`): the encoder
weights come from that stage's latest checkpoint, the task head is new.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from mbert_cli.config import load_run_config
from mbert_cli.config.resolve import apply_overrides
from mbert_cli.config.run import RunConfig
from mbert_cli.config.training import OptimizerConfig
from mbert_cli.errors import MbertError
from mbert_cli.modeling.pretrainer import MODEL_INPUTS, build_pretrainer, model_inputs
from mbert_cli.training.checkpoints import latest_checkpoint, restore, stage_checkpoint_path
from mbert_cli.training.layer_decay import layer_groups
from mbert_cli.training.optim import build_optimizer
from mbert_cli.training.run_dir import write_json
from mbert_cli.training.runner import Span, StageContext, StageTask


def split_init(init: str | Path) -> tuple[Path, str]:
    """'runs/s/student' -> (runs/s, 'student'), checked."""
    init = Path(init)
    if init.name not in ("teacher", "student"):
        raise MbertError(f"--init {init} is not a pre-training stage folder",
                         hint="point --init at runs/NAME/student or runs/NAME/teacher")
    if not (init.parent / "config.yaml").is_file():
        raise MbertError(f"no config.yaml in {init.parent}", hint="point --init at a stage of a run made by `mbert train`")
    return init.parent, init.name


def finetune_run_config(init: str | Path, run: str | Path | None, config_file: str | Path | None,
                        overrides) -> tuple[Path, RunConfig]:
    """(run folder, config) of a fine-tune: the run's own config (else the init run's) + YAML + --set.

    The run folder defaults to the init's run; a different model there is one clear error.
    """
    init_run, _ = split_init(init)
    run = Path(run) if run is not None else init_run
    base = run if (run / "config.yaml").is_file() else init_run
    cfg = apply_overrides(load_run_config(base), config_file, overrides)
    init_cfg = load_run_config(init_run)
    if init_cfg.encoder != cfg.encoder:
        raise MbertError(f"{run} holds a different model ({cfg.preset}) than --init {init} ({init_cfg.preset})",
                         hint="fine-tune into the init's own run folder or a new --run")
    return run, cfg


def init_checkpoint(init: str | Path | None) -> str | None:
    """The checkpoint `--init` names (None: random weights)."""
    if init is None:
        return None
    return stage_checkpoint_path(*split_init(init), "latest")


class FineTuneTask(StageTask):
    """A task head on a pre-trained encoder, AdamW, one phase; evaluated at every end."""

    batch_key, final_eval_always = "finetune.batch_size", True

    def __init__(self, cfg: RunConfig, task: str, init_path: str | None):
        self.cfg, self.task, self.init_path = cfg, task, init_path
        self.name = f"finetune-{task}"
        self.batch_size, self.clip_norm = cfg.finetune.batch_size, cfg.train.optimizer.clip_norm
        self.steps = 0  # set by the task once its data is known

    def build_model(self, ctx: StageContext):
        with ctx.trained_precision():
            self.pm = build_pretrainer(self.cfg.encoder)
            self.model = self.build_head(self.pm.encoder)
        return self.model

    def build_head(self, encoder):
        """The task model over `encoder` (shares its variables)."""
        raise NotImplementedError

    def phases(self) -> list:
        return [Span(self.name, 0, self.steps)]

    def initialize(self, ctx: StageContext) -> None:
        if self.init_path is not None:
            restore(tf.train.Checkpoint(model=self.pm.model), self.init_path)
        ctx.say(f"Fine-tuning {self.task} from {self.init_path or 'random weights'} ({self.data_summary()}).")

    def data_summary(self) -> str:
        """How much task data there is, for the start line."""
        raise NotImplementedError

    def task_record(self) -> dict:
        """task.json: what this fine-tune is (task, init, steps, ...)."""
        return {"task": self.task, "init": str(self.init_path) if self.init_path else "random", "steps": self.steps}

    def check_resumable(self, stage) -> None:
        """A fine-tune resumes only with the layer-wise decay and word-embedding freeze it started
        with: each depth's AdamW state is its own checkpoint entry, which another decay would
        silently drop or start from zero (warm-up again for part of the model), and a table that
        was frozen has no AdamW state to resume."""
        record = stage.path / "task.json"
        if latest_checkpoint(stage.checkpoints) is None or not record.is_file():
            return
        started = json.loads(record.read_text())
        ft = self.cfg.finetune
        for key, before, now in (("layer_lr_decay", float(started.get("layer_lr_decay", 1.0)), ft.layer_lr_decay),
                                 ("freeze_word_embeddings", bool(started.get("freeze_word_embeddings", False)),
                                  ft.freeze_word_embeddings)):
            if before != now:
                shown = (lambda v: f"{v:g}") if key == "layer_lr_decay" else (lambda v: str(v).lower())
                raise MbertError(f"{stage.path} was fine-tuned with finetune.{key}={shown(before)}, not "
                                 f"{shown(now)}: its optimizer state does not carry over",
                                 hint=f"resume with --set finetune.{key}={shown(before)}, "
                                      "or fine-tune into a new --run")

    def on_start(self, ctx: StageContext, step: int) -> None:
        if ctx.dist.is_chief:
            ft = self.cfg.finetune
            record = {**self.task_record(), "layer_lr_decay": ft.layer_lr_decay,
                      "freeze_word_embeddings": ft.freeze_word_embeddings}
            write_json(ctx.stage.path / "task.json", record)

    def create_optimizers(self, ctx: StageContext, phase) -> tuple[list, dict]:
        """AdamW with warm-up over `finetune.warmup_fraction` of the steps, then decay.

        One AdamW per depth when `finetune.layer_lr_decay` < 1 (training/layer_decay.py); the
        word-embedding table in none with `finetune.freeze_word_embeddings`.
        """
        ft = self.cfg.finetune
        base = OptimizerConfig(learning_rate=ft.learning_rate, weight_decay=ft.weight_decay,
                               clip_norm=self.cfg.train.optimizer.clip_norm)
        warmup = int(ft.warmup_fraction * self.steps)
        groups, optimizers = [], {}
        frozen = {self.pm.encoder.get_embedding_table().ref()} if ft.freeze_word_embeddings else set()
        for group in layer_groups(self.model, self.pm.encoder, ft.layer_lr_decay):
            opt = build_optimizer(base, self.steps, "adamw", lr_scale=group.scale, warmup_steps=warmup)
            groups.append((opt, [v for v in group.variables if v.ref() not in frozen]))
            optimizers[group.name] = opt
        return groups, optimizers

    def outputs(self, inputs: dict, training: bool) -> dict:
        return self.model(model_inputs(inputs, MODEL_INPUTS), training=training)
