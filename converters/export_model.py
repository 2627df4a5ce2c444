"""The model an export converts, restored through training's one restore API.

`mbert_cli.training.checkpoints` knows the stages, their checkpoints and the model each
holds; this module only chooses what of that model is exported: a fine-tuned stage's task
outputs as they are, the encoder's `sequence_output` and `pooled_output` for teacher and
student (the MLM/NSP heads and `masked_lm_positions` are training-only).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tf_keras
from official.nlp.modeling import networks

from mbert_cli.errors import MbertError
from mbert_cli.modeling.models import keras_inputs
from mbert_cli.training.checkpoints import build_stage_model, restore_for_inference, stage_checkpoint_path


@dataclass
class Restored:
    """A restored model ready for export: Keras model with dict outputs, and where it came from."""

    config: Any  # RunConfig
    model: Any  # tf_keras.Model: inputs dict -> outputs dict
    stage: str
    checkpoint: str  # checkpoint prefix path
    step: int


def find_encoder(model: Any) -> Any:
    """The MobileBERT or BERT encoder inside a model (for its per-layer outputs), or None."""
    for m in [model, *model.submodules]:
        if isinstance(m, networks.MobileBERTEncoder | networks.BertEncoderV2):
            return m
    return None


def export_model(stage: str, model: Any) -> Any:
    """The model to export for a stage's restored model (shares its variables)."""
    if stage.startswith("finetune-"):
        return model
    encoder = find_encoder(model)
    if encoder is None:
        raise MbertError(f"no MobileBERT/BERT encoder found in the {stage} model",
                         hint="export a fine-tuned stage with --from finetune-<task>")
    inputs = keras_inputs()
    out = encoder(inputs)
    return tf_keras.Model(inputs, {"sequence_output": out["sequence_output"],
                                   "pooled_output": out["pooled_output"]}, name="encoder_model")


def build_export_model(config: Any, stage: str, encoder_cfg: Any = None) -> tuple[Any, Any]:
    """(model in training's checkpoint layout, model exported), sharing variables.

    `encoder_cfg` overrides the run's encoder (the OPT pass builds the NoNorm/ReLU twin).
    """
    cfg = config
    if encoder_cfg is not None:
        cfg = copy.deepcopy(config)
        cfg.encoder = encoder_cfg
    trained = build_stage_model(cfg, stage)
    return trained, export_model(stage, trained)


def restore_for_export(run_dir: str | Path, stage: str) -> Restored:
    """The stage's latest checkpoint, restored by training's `restore_for_inference`."""
    config, model, step = restore_for_inference(run_dir, stage)
    return Restored(config=config, model=export_model(stage, model), stage=stage,
                    checkpoint=stage_checkpoint_path(Path(run_dir), stage), step=step)
