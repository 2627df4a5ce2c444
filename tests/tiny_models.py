"""Tiny random-weight encoder files for unit tests of the runners (built in about a second).

They carry MobileBERT's signature (`input_word_ids`, `input_type_ids` int32 and a float
`input_mask`) so the runners exercise the same input lookup as real exports. The studies'
`--make-models` export the real presets (`studies/_models.py`), and `--tiny` the nano presets.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

# (name, hidden width, layers[, mode]): "large" does ~16x the work of "small", so ratios are visible.
TINY_SPECS = (("tiny-small", 32, 1), ("tiny-large", 128, 4))


@dataclass(frozen=True)
class TinyModel:
    """A built tiny model: its file and the settings it was built with."""

    path: Path
    hidden: int
    layers: int
    seq_len: int


def build_tiny_models(out_dir: str | Path, seq_len: int = 16, vocab: int = 64,
                      specs=TINY_SPECS, seed: int = 0) -> list[TinyModel]:
    """Converts each spec to `<out_dir>/<name>.tflite` and writes a `manifest.json` beside them.

    TensorFlow is imported here, not at module top, so importing this module stays cheap.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    built, entries = [], []
    for spec in specs:
        name, hidden, layers = spec[:3]
        mode = spec[3] if len(spec) > 3 else "float32"
        tf.random.set_seed(seed)
        module = _encoder_module(tf, vocab, hidden, layers, seq_len)
        fn = module.serve.get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], module)
        if mode == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif mode != "float32":
            raise ValueError(f"tiny models support float32 and dynamic, not {mode}")
        path = out / f"{name}.tflite"
        tmp = path.with_suffix(".tflite.tmp")
        tmp.write_bytes(converter.convert())
        tmp.replace(path)
        built.append(TinyModel(path, hidden, layers, seq_len))
        entries.append({"file": path.name, "mode": mode, "seq_len": seq_len})
    (out / "manifest.json").write_text(json.dumps({"files": entries}, indent=2))
    return built


def _encoder_module(tf, vocab: int, hidden: int, layers: int, seq_len: int):
    """Embedding + `layers` x (mask-weighted dense ReLU block): the shape of an encoder, tiny."""

    class TinyEncoder(tf.Module):
        def __init__(self):
            super().__init__()
            init = tf.random.normal
            self.word = tf.Variable(init([vocab, hidden], stddev=0.1))
            self.type = tf.Variable(init([2, hidden], stddev=0.1))
            self.ws = [tf.Variable(init([hidden, hidden], stddev=0.1)) for _ in range(layers)]
            self.bs = [tf.Variable(tf.zeros([hidden])) for _ in range(layers)]
            self.head = tf.Variable(init([hidden, 2], stddev=0.1))

        @tf.function(input_signature=[
            tf.TensorSpec([1, seq_len], tf.int32, name="input_word_ids"),
            tf.TensorSpec([1, seq_len], tf.int32, name="input_type_ids"),
            tf.TensorSpec([1, seq_len], tf.float32, name="input_mask"),
        ])
        def serve(self, input_word_ids, input_type_ids, input_mask):
            h = tf.gather(self.word, input_word_ids) + tf.gather(self.type, input_type_ids)
            h = h * tf.expand_dims(input_mask, -1)
            for w, b in zip(self.ws, self.bs, strict=True):
                h = h + tf.nn.relu(tf.matmul(h, w) + b)
            pooled = tf.reduce_mean(h, axis=1)
            return {"logits": tf.matmul(pooled, self.head)}

    return TinyEncoder()
