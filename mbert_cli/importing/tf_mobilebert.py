"""google-research TF1 MobileBERT checkpoints (`bert/encoder/layer_N/...`, `FakeLayerNorm`) and tf-models TF2 ones.

TF1 names are renamed and reshaped with tf-models' own converter functions
(`official/projects/mobilebert/tf2_model_checkpoint_converter.py`: its `_NAME_REPLACEMENT`
table, `_bert_name_replacement` and `_get_new_shape`), so mbert maps exactly as the
reference tool does. Its `convert()` itself is not called: it goes through a temporary
V1 checkpoint and a TF1 graph/session and builds its own model, where mbert needs the
weights in its own pre-training model with every shape checked and reported.
TF2 checkpoints (what that tool writes: `tf.train.Checkpoint(**pretrainer.checkpoint_items)`)
are object-based and restore directly into the same tf-models classes.
"""

from __future__ import annotations

import numpy as np
from official.projects.mobilebert import tf2_model_checkpoint_converter as conv

from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.importing.mapping import COPY, Entry

# GR names outside the encoder: the MLM head (run_pretraining.py `get_logits`) and what is dropped.
TF1_MLM = {
    "cls/predictions/transform/dense/kernel": "masked_lm/transform/dense/kernel",
    "cls/predictions/transform/dense/bias": "masked_lm/transform/dense/bias",
    "cls/predictions/transform/LayerNorm/gamma": "masked_lm/transform/LayerNorm/gamma",
    "cls/predictions/transform/LayerNorm/beta": "masked_lm/transform/LayerNorm/beta",
    "cls/predictions/output_bias": "masked_lm/output_bias/bias",
    "cls/predictions/extra_output_weights": "masked_lm/extra_output_weights",
}
TF1_IGNORABLE = {
    "cls/seq_relationship/": "NSP head: mbert's NSP head has its own pooler layer, so a new one is initialised",
    "global_step": "training step counter",
}
OPTIMIZER_SLOTS = ("/adam_m", "/adam_v", "/lamb_m", "/lamb_v", "AdamWeightDecayOptimizer", "LAMB")


def _converter():
    return conv


def tf1_entries(tensors: dict[str, np.ndarray], cfg: EncoderConfig) -> tuple[list[Entry], dict[str, np.ndarray]]:
    """(entries, tensors reshaped as tf-models needs) for every `bert/...` and MLM tensor of a TF1 checkpoint."""
    conv = _converter()
    last = str(cfg.num_feedforward_networks - 1)
    # tf-models keeps its name table and reshape rules private to the converter script; they are
    # used as they are (SLF001 below) so the names stay the converter's, not a copy of them.
    # The tool's table with its `--use_model_prefix=false` first entry, as its main() sets it.
    table = [("bert/", "")] + [(a, b.replace("LAST_FFN_LAYER_ID", last)) for a, b in conv._NAME_REPLACEMENT[1:]]  # noqa: SLF001
    entries, shaped = [], {}
    for name, value in tensors.items():
        if name in TF1_MLM:
            entries.append(Entry(name, TF1_MLM[name], COPY))
            shaped[name] = value
        elif name.startswith("bert/"):
            target = conv._bert_name_replacement(name, table)  # noqa: SLF001
            new_shape = conv._get_new_shape(target, value.shape, cfg.num_heads)  # noqa: SLF001
            shaped[name] = np.reshape(value, new_shape) if new_shape else value
            entries.append(Entry(name, f"encoder/{target}", COPY))
    return entries, shaped


def is_optimizer_slot(name: str) -> bool:
    return any(s in name for s in OPTIMIZER_SLOTS)
