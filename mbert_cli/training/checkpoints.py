"""Checkpoint layout, resume helpers and `restore_for_inference` (what export calls).

Layout: every stage folder (`runs/NAME/<stage>/`) holds
    checkpoints/ckpt-<step>.{index,data-*}   tf.train.CheckpointManager, the 2 latest
    checkpoints/best/ckpt-<step>.*           the best by the stage's eval metric (+ best.json)
Each checkpoint is `tf.train.Checkpoint(model=<keras model>, step=<int64 global step>,
optimizer...=<optimizer>)`:
    teacher, student: model = the pre-training model (`build_pretraining_model(cfg.encoder).model`:
        encoder + MLM head + NSP head); the student also stores one optimizer per stage
        (`optimizer_<stage>`, `optimizer_<stage>_lower`), the teacher `optimizer`.
    finetune-classification: model = `build_classifier(cfg.encoder, cfg.finetune.num_classes)[0]`.
    finetune-squad: model = `build_span_labeler(cfg.encoder)[0]`.
Only `model` is needed for inference; `restore_for_inference` reads exactly that.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from mbert_cli.config import load_run_config
from mbert_cli.config.run import RunConfig
from mbert_cli.errors import MbertError, first_line
from mbert_cli.modeling.models import build_classifier, build_span_labeler
from mbert_cli.modeling.pretrainer import build_pretrainer
from mbert_cli.training.run_dir import StageDir

STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"
STAGES = ("teacher", "student", "finetune-classification", "finetune-squad")


def check_stage(stage: str) -> str:
    """`stage` if it names a stage, else one clear error."""
    if stage not in STAGES:
        raise MbertError(f"unknown stage {stage!r}", hint=f"choose one of: {', '.join(STAGES)}")
    return stage


def open_run(run_dir) -> RunConfig:
    """The config of an existing run folder; a missing folder or config.yaml is one clear error."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MbertError(f"run folder {run_dir} does not exist", hint="point --run at a folder made by `mbert train`")
    return load_run_config(run_dir)


def default_stage(run) -> str:
    """The last stage trained in a run: finetune-* (newest), else student, else teacher."""
    run = Path(run)
    # A stage folder exists from its first step on; only one with a saved checkpoint counts.
    tuned = sorted((p for p in run.glob("finetune-*/checkpoints") if (p / "checkpoint").is_file()),
                   key=lambda p: p.stat().st_mtime)
    if tuned:
        return tuned[-1].parent.name
    for name in ("student", "teacher"):
        if (run / name / "checkpoints" / "checkpoint").is_file():
            return name
    raise MbertError(f"no trained stage in {run} (no checkpoint in teacher/, student/ or finetune-*/)",
                     hint="train one first with `mbert train ...`, or point --run at another folder")


def latest_checkpoint(directory: Path) -> str | None:
    """The newest checkpoint prefix in `directory` (None when there is none)."""
    if not Path(directory).is_dir():
        return None
    return tf.train.latest_checkpoint(str(directory))


def checkpoint_step(path: str) -> int:
    """The global step stored in a checkpoint, read without building a model."""
    try:
        return int(tf.train.load_checkpoint(path).get_tensor(STEP_KEY))
    except (tf.errors.OpError, ValueError, KeyError, IndexError) as err:
        raise corrupt(path, err) from None


def corrupt(path: str, err: Exception) -> MbertError:
    return MbertError(f"checkpoint {path} cannot be read or does not fit the model: {first_line(err)[:200]}",
                      hint=f"delete the damaged files in {Path(path).parent} to fall back to an older "
                           "checkpoint (or start the stage over), or check that the run's config.yaml "
                           "is the one the checkpoint was trained with")


def restore(checkpoint, path: str, *, require_model: bool = True) -> None:
    """Restores `checkpoint` from `path`; any mismatch or damage is one MbertError."""
    try:
        status = checkpoint.read(path)
        if require_model:
            status.assert_existing_objects_matched()
        status.expect_partial()
    except (tf.errors.OpError, ValueError, AssertionError, KeyError, IndexError) as err:
        raise corrupt(path, err) from None


def stage_checkpoint_path(run: Path, stage: str, which: str = "latest") -> str:
    """The checkpoint to read for `stage` ('latest' or 'best'), or a clear error."""
    sd = StageDir(Path(run), stage)
    folder = sd.best if which == "best" else sd.checkpoints
    path = latest_checkpoint(folder)
    if path is None and which == "best":
        path = latest_checkpoint(sd.checkpoints)
    if path is None:
        raise MbertError(f"no checkpoint for stage {stage!r} in {folder}",
                         hint=f"train it first (`mbert train {stage.split('-')[0]} --run {run}`), "
                              "or check the --run/--init path")
    return path


def build_stage_model(cfg, stage: str):
    """The Keras model whose weights a stage's checkpoints hold (see the module docstring)."""
    if check_stage(stage) in ("teacher", "student"):
        return build_pretrainer(cfg.encoder).model
    if stage == "finetune-classification":
        return build_classifier(cfg.encoder, cfg.finetune.num_classes)[0]
    return build_span_labeler(cfg.encoder)[0]


def restore_for_inference(run_dir, stage: str, which: str = "latest"):
    """Rebuilds a stage's model from `runs/NAME/config.yaml` and loads its weights.

    Args:
      run_dir: the run folder (`runs/NAME`).
      stage: 'teacher' | 'student' | 'finetune-classification' | 'finetune-squad'.
      which: 'latest' (default) or 'best' (falls back to latest when no best was kept).

    Returns:
      (RunConfig, tf_keras.Model, step). For teacher/student the model is the pre-training
      model (inputs input_word_ids, input_mask (float32), input_type_ids,
      masked_lm_positions; outputs mlm_logits, next_sentence, sequence_output,
      pooled_output, encoder_outputs, attention_scores); for finetune stages the task
      model (3 inputs; outputs {'logits'} or {'start_logits', 'end_logits'}). Call it with
      training=False. Optimizer state is not loaded.

    Raises:
      MbertError: no run folder or config.yaml, an unknown stage, no checkpoint, a config
        the model cannot be rebuilt from, or a checkpoint that does not fit.
    """
    run_dir = Path(run_dir)
    cfg = open_run(run_dir)
    path = stage_checkpoint_path(run_dir, check_stage(stage), which)
    try:
        model = build_stage_model(cfg, stage)
    except MbertError:
        raise
    except Exception as err:  # noqa: BLE001 - a builder failure means the config cannot be rebuilt
        raise MbertError(f"cannot rebuild the model from {run_dir / 'config.yaml'}: {first_line(err)}",
                         hint="the run was made by another mbert version or edited by hand") from None
    restore(tf.train.Checkpoint(model=model), path)
    return cfg, model, checkpoint_step(path)
