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


def export_model(stage: str, model: Any) -> Any:
    """The model to export for a stage's restored model (shares its variables).

    Fine-tuned stages export the task head's outputs as they are; teacher/student export
    the encoder's `sequence_output` and `pooled_output` (the MLM/NSP heads and the
    `masked_lm_positions` input are training-only).
    """
    import tf_keras  # noqa: PLC0415

    if stage.startswith("finetune-"):
        return model
    from converters.opt_substitution import find_encoder  # noqa: PLC0415

    encoder = find_encoder(model)
    if encoder is None:
        raise MbertError(f"no MobileBERT/BERT encoder found in the {stage} model",
                         hint="export a fine-tuned stage with --from finetune-<task>")
    inputs = {k: tf_keras.Input(shape=(None,), dtype=t, name=k) for k, t in
              (("input_word_ids", "int32"), ("input_mask", "float32"), ("input_type_ids", "int32"))}
    out = encoder(inputs)
    return tf_keras.Model(inputs, {"sequence_output": out["sequence_output"],
                                   "pooled_output": out["pooled_output"]}, name="encoder_model")


def build_stage_model(config: Any, stage: str, encoder_cfg: Any = None) -> tuple[Any, Any]:
    """(model in training's checkpoint layout, model exported), sharing variables.

    `encoder_cfg` overrides the run's encoder (the OPT pass builds the NoNorm/ReLU twin).
    """
    import copy  # noqa: PLC0415

    from mbert_cli.training.checkpoints import build_stage_model as training_model  # noqa: PLC0415

    if stage not in STAGES:
        raise MbertError(f"unknown stage {stage!r}", hint=f"use --from with one of: {', '.join(STAGES)}")
    cfg = config
    if encoder_cfg is not None:
        cfg = copy.deepcopy(config)
        cfg.encoder = encoder_cfg
    trained = training_model(cfg, stage)
    return trained, export_model(stage, trained)


def restore(run_dir: str | Path, stage: str | None = None) -> Restored:
    """Rebuilds the stage's model from config.yaml and restores its latest checkpoint.

    The one place that knows checkpoints: it delegates to training's
    `restore_for_inference`, so export reads exactly what training wrote.
    """
    from mbert_cli.training.checkpoints import restore_for_inference, stage_checkpoint_path  # noqa: PLC0415

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MbertError(f"run folder {run_dir} does not exist", hint="point --run at a folder made by `mbert train`")
    stage = stage or default_stage(run_dir)
    if stage not in STAGES:
        raise MbertError(f"unknown stage {stage!r}", hint=f"use --from with one of: {', '.join(STAGES)}")
    if latest_checkpoint(run_dir, stage) is None:
        raise MbertError(f"run {run_dir} has no checkpoint for stage {stage!r} in {checkpoint_dir(run_dir, stage)}",
                         hint="train that stage first, or choose another with --from")
    try:
        config, model, step = restore_for_inference(run_dir, stage)
    except MbertError:
        raise
    except Exception as err:  # noqa: BLE001 - a builder failure means the config cannot be rebuilt
        raise MbertError(f"cannot rebuild the model from {run_dir / 'config.yaml'}: {str(err).splitlines()[0]}",
                         hint="the run was made by another mbert version or edited by hand") from None
    prefix = stage_checkpoint_path(run_dir, stage)
    return Restored(config=config, model=export_model(stage, model), stage=stage, checkpoint=prefix, step=step)
