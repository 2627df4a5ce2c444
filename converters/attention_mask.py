"""Clipped additive attention mask: keeps int8 quantization ranges sane.

tf_keras' masked softmax adds `(1 - mask) * -1e9` to the scores. Calibration then sees a
range of ~1e9 for the mask-add output, so every real score rounds to the same int8 value
and attention turns uniform (padding leaks into real positions). Adding `clip` (about -120,
as tf-models-official's MobileBERT export does) instead is exact in float32
(exp(-120) ~ 1e-52) and leaves the int8 scale usable.
"""

from __future__ import annotations

import types
from typing import Any

import tensorflow as tf
import tf_keras

DEFAULT_CLIP = -120.0
MASKED_SCORES_NAME = "masked_attention_scores"


def _clipped_masked_softmax(clip: float):
    def masked_softmax(self, attention_scores, attention_mask=None):
        if attention_mask is None:
            return self._softmax(attention_scores)
        # Same broadcasting as tf_keras' MultiHeadAttention._masked_softmax.
        mask_expansion_axis = -len(self._attention_axes) * 2 - 1
        for _ in range(len(attention_scores.shape) - len(attention_mask.shape)):
            attention_mask = tf.expand_dims(attention_mask, axis=mask_expansion_axis)
        mask = tf.cast(attention_mask, attention_scores.dtype)
        # Named so quantization recipes can find (and keep in float) exactly these adds.
        masked = tf.math.add(attention_scores, (1.0 - mask) * clip, name=MASKED_SCORES_NAME)
        return self._softmax(masked)

    return masked_softmax


def attention_layers(model: Any) -> list:
    """Every tf_keras MultiHeadAttention inside `model` (MobileBERT and BERT both use it)."""
    return [m for m in model.submodules if isinstance(m, tf_keras.layers.MultiHeadAttention)]


def clip_attention_masks(model: Any, clip: float | None = DEFAULT_CLIP) -> int:
    """Makes every attention layer of `model` add `clip` at masked positions, in place.

    `clip=None` restores tf_keras' own masked softmax (the -1e9 adder); tests use it to show
    the leak. Returns the number of attention layers changed.
    """
    layers = attention_layers(model)
    for layer in layers:
        if clip is None:
            layer.__dict__.pop("_masked_softmax", None)
        else:
            # Instance attribute shadows the class method; bypass Keras' attribute tracking.
            object.__setattr__(layer, "_masked_softmax",
                               types.MethodType(_clipped_masked_softmax(float(clip)), layer))
    return len(layers)
