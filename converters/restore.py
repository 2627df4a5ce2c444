"""Rebuilding a run's model from config.yaml and restoring its latest checkpoint.

All checkpoint knowledge lives here, so switching to training's own
`mbert_cli.training.checkpoints.restore_for_inference` is a one-function change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mbert_cli.errors import MbertError

STAGES = ("finetune-classification", "finetune-squad", "student", "teacher")


@dataclass
class Restored:
    """A restored model ready for export: Keras model with dict outputs, and where it came from."""

    config: Any  # RunConfig
    model: Any  # tf_keras.Model: inputs dict -> outputs dict
    stage: str
    checkpoint: str  # checkpoint prefix path
    step: int


def checkpoint_dir(run_dir: str | Path, stage: str) -> Path:
    return Path(run_dir) / stage / "checkpoints"


def latest_checkpoint(run_dir: str | Path, stage: str) -> str | None:
    """The newest checkpoint prefix of `stage`, or None."""
    import tensorflow as tf  # noqa: PLC0415

    d = checkpoint_dir(run_dir, stage)
    return tf.train.latest_checkpoint(str(d)) if d.is_dir() else None


def default_stage(run_dir: str | Path) -> str:
    """The most finished stage with a checkpoint: fine-tuned, then student, then teacher."""
    for stage in STAGES:
        d = checkpoint_dir(run_dir, stage)
        if d.is_dir() and any(p.name == "checkpoint" for p in d.iterdir()):
            return stage
    raise MbertError(f"no checkpoint in {run_dir} (looked in {', '.join(s + '/checkpoints' for s in STAGES)})",
                     hint="train the run first (`mbert train ...`), or point --run at another folder")


def build_stage_model(config: Any, stage: str, encoder_cfg: Any = None) -> tuple[Any, Any]:
    """(model whose checkpoint layout training uses, model exported): both share variables.

    Fine-tuned stages export the task head's outputs; student/teacher export the encoder's
    `sequence_output` and `pooled_output`.
    """
    import tf_keras  # noqa: PLC0415

    from mbert_cli.modeling import models  # noqa: PLC0415

    enc_cfg = encoder_cfg if encoder_cfg is not None else config.encoder
    if stage == "finetune-classification":
        model, _ = models.build_classifier(enc_cfg, config.finetune.num_classes)
        return model, model
    if stage == "finetune-squad":
        model, _ = models.build_span_labeler(enc_cfg)
        return model, model
    if stage in ("student", "teacher"):
        pre = models.build_pretraining_model(enc_cfg)
        inputs = {k: tf_keras.Input(shape=(None,), dtype=t, name=k) for k, t in
                  (("input_word_ids", "int32"), ("input_mask", "float32"), ("input_type_ids", "int32"))}
        out = pre.encoder(inputs)
        exported = tf_keras.Model(inputs, {"sequence_output": out["sequence_output"],
                                           "pooled_output": out["pooled_output"]}, name="encoder_model")
        return pre.model, exported
    raise MbertError(f"unknown stage {stage!r}", hint=f"use --from with one of: {', '.join(STAGES)}")


def restore(run_dir: str | Path, stage: str | None = None) -> Restored:
    """Loads config.yaml, rebuilds the stage's model and restores its latest checkpoint."""
    import tensorflow as tf  # noqa: PLC0415

    from mbert_cli.config import load_run_config  # noqa: PLC0415

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MbertError(f"run folder {run_dir} does not exist", hint="point --run at a folder made by `mbert train`")
    config = load_run_config(run_dir)
    stage = stage or default_stage(run_dir)
    if stage not in STAGES:
        raise MbertError(f"unknown stage {stage!r}", hint=f"use --from with one of: {', '.join(STAGES)}")
    prefix = latest_checkpoint(run_dir, stage)
    if prefix is None:
        raise MbertError(f"run {run_dir} has no checkpoint for stage {stage!r} in {checkpoint_dir(run_dir, stage)}",
                         hint="train that stage first, or choose another with --from")
    try:
        trained, exported = build_stage_model(config, stage)
    except MbertError:
        raise
    except Exception as err:  # noqa: BLE001 - any builder failure means the config cannot be rebuilt
        raise MbertError(f"cannot rebuild the model from {run_dir / 'config.yaml'}: {err}",
                         hint="the run was made by another mbert version or edited by hand") from None
    ckpt = tf.train.Checkpoint(model=trained)
    try:
        status = ckpt.restore(prefix)
        status.expect_partial()  # optimizer slots and step counters are not needed for export
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise MbertError(f"checkpoint {prefix} does not match the model in config.yaml: {str(err).splitlines()[0]}",
                         hint="the checkpoint belongs to another config; export the run that wrote it") from None
    step = _step_of(prefix, ckpt)
    return Restored(config=config, model=exported, stage=stage, checkpoint=prefix, step=step)


def _step_of(prefix: str, ckpt: Any) -> int:
    """The checkpoint's step: a saved `step` variable if any, else the `ckpt-N` suffix."""
    import tensorflow as tf  # noqa: PLC0415

    try:
        reader = tf.train.load_checkpoint(prefix)
        for key in reader.get_variable_to_shape_map():
            if key.startswith("step/") or key.startswith("global_step/"):
                return int(reader.get_tensor(key))
    except Exception:  # noqa: BLE001 - the suffix is a fine fallback
        pass
    tail = prefix.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0
