"""MediaPipe Tasks as a test client: the real TextClassifier, and its tokenizer made visible.

`mediapipe_token_ids` builds an "echo" text embedder (its output is its own input ids, as
floats) with a dynamic [1, -1] input, writes BERT tokenizer metadata with the given vocab,
and reads back what MediaPipe's C++ preprocessor fed it: the deployed tokenization, exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def classifier(path: str | Path):
    from mediapipe.tasks.python.core import base_options
    from mediapipe.tasks.python.text import text_classifier

    options = text_classifier.TextClassifierOptions(base_options=base_options.BaseOptions(model_asset_path=str(path)))
    return text_classifier.TextClassifier.create_from_options(options)


def embedder(path: str | Path, l2_normalize: bool = False):
    from mediapipe.tasks.python.core import base_options
    from mediapipe.tasks.python.text import text_embedder

    options = text_embedder.TextEmbedderOptions(base_options=base_options.BaseOptions(model_asset_path=str(path)),
                                                l2_normalize=l2_normalize, quantize=False)
    return text_embedder.TextEmbedder.create_from_options(options)


def classify(clf, texts: list[str], labels: list[str]) -> np.ndarray:
    """[len(texts), len(labels)] probabilities as MediaPipe reports them (label order)."""
    out = np.zeros((len(texts), len(labels)), np.float64)
    index = {name: i for i, name in enumerate(labels)}
    for row, text in enumerate(texts):
        for c in clf.classify(text).classifications[0].categories:
            out[row, index[c.category_name]] = c.score
    return out


def echo_flatbuffer() -> bytes:
    """A converted model without metadata whose 'embedding' is its input ids (as floats)."""
    import tensorflow as tf

    class Echo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32, name=n)
                                      for n in ("input_word_ids", "input_type_ids", "input_mask")])
        def serve(self, input_word_ids, input_type_ids, input_mask):
            return {"embedding": tf.cast(input_word_ids + 0 * (input_type_ids + input_mask), tf.float32)}

    module = Echo()
    return tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module).convert()


def echo_model(path: Path, vocab: Path) -> Path:
    """Writes the echo embedder for `vocab` to `path`."""
    from converters.app_metadata import AppSpec, attach

    path.write_bytes(attach(echo_flatbuffer(), AppSpec(kind="embedder", vocab_path=vocab)))
    return path


def mediapipe_token_ids(echo_path: Path, texts: list[str]) -> list[list[int]]:
    """The WordPiece ids MediaPipe's preprocessor produces for each text, without [CLS]/[SEP]."""
    emb = embedder(echo_path)
    try:
        return [emb.embed(t).embeddings[0].embedding.astype(np.int64).tolist()[1:-1] for t in texts]
    finally:
        emb.close()
