"""The pre-training model with every variable created, and the features it takes.

Every stage, the importer, `export_hf` and checkpoint restoring build the pre-trainer the
same way, so their checkpoints match by name.
"""

from __future__ import annotations

import tensorflow as tf

from mbert_cli.modeling.encoders import INPUT_NAMES as MODEL_INPUTS
from mbert_cli.modeling.models import build_pretraining_model

PRETRAIN_INPUTS = MODEL_INPUTS + ("masked_lm_positions",)


def model_inputs(batch: dict, keys=PRETRAIN_INPUTS) -> dict:
    """Only the features the Keras model takes (the batch also carries labels)."""
    return {k: batch[k] for k in keys}


def build_pretrainer(encoder_cfg, name: str = "pretrainer", seq_len: int = 8, predictions: int = 2):
    """`build_pretraining_model` with every variable created (BertPretrainerV2 builds its
    heads on first call; copying and checkpoint matching need them to exist)."""
    pm = build_pretraining_model(encoder_cfg, name=name)
    pm.model({"input_word_ids": tf.zeros([1, seq_len], tf.int32), "input_mask": tf.ones([1, seq_len], tf.float32),
              "input_type_ids": tf.zeros([1, seq_len], tf.int32),
              "masked_lm_positions": tf.zeros([1, predictions], tf.int32)}, training=False)
    return pm
