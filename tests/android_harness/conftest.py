"""Fixtures for android_harness tests: a tiny .tflite (the one TensorFlow use), a fake
arm64 benchmark_model, and loopback devices behind a private adb server."""

from __future__ import annotations

from pathlib import Path

import pytest

from android_harness.attach import loopback_adb, write_stand_in_binary


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> Path:
    """input_word_ids int32 [1, 8] -> embedding lookup -> dense: a BERT-shaped toy."""
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self):
            self.embedding = tf.Variable(tf.random.stateless_normal([32, 8], seed=[1, 2]))
            self.kernel = tf.Variable(tf.random.stateless_normal([8, 4], seed=[3, 4]))

        @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.int32, name="input_word_ids")])
        def __call__(self, input_word_ids):
            x = tf.gather(self.embedding, input_word_ids)[0]
            return {"logits": tf.nn.relu(tf.matmul(x, self.kernel))}

    module = Tiny()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    path = tmp_path_factory.mktemp("model") / "tiny.tflite"
    path.write_bytes(converter.convert())
    return path


@pytest.fixture
def fake_binary(tmp_path) -> Path:
    return write_stand_in_binary(tmp_path / "bin" / "benchmark_model")


@pytest.fixture
def loopback():
    """One loopback Pixel 4 attached to a private adb server: (adb, serials) + .devices."""
    with loopback_adb(1) as setup:
        yield setup
