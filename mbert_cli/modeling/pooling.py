"""Masked mean pooling: the average of the real tokens' vectors, padding excluded."""

from __future__ import annotations

import tensorflow as tf
import tf_keras


class MaskedMeanPooling(tf_keras.layers.Layer):
    """[batch, seq, width] + mask [batch, seq] -> [batch, width]: sum(mask * x) / sum(mask).

    Built from MUL/SUM/DIV, which every TFLite runtime has as builtins; a row with no real
    token gives zeros instead of a division by zero.
    """

    def call(self, sequence, mask):
        weights = tf.cast(mask, sequence.dtype)[:, :, None]
        total = tf.reduce_sum(sequence * weights, axis=1)
        count = tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)
        return total / count
