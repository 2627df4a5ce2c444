"""The serving function: named int32/float32 inputs and one named output per head.

Full-integer conversion may reorder a model's inputs, so every exported file carries a
named signature and all code looks tensors up by name. The mask is float32 so the graph
needs no Cast op, except in an app-ready file (`app`): MediaPipe's BERT preprocessor feeds
three int32 tensors, so there the mask is int32 and cast inside the graph, and the file
answers what the app reads: class probabilities (softmax) or an L2-normalised mean-pooled
sentence embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf

from mbert_cli.modeling.encoders import INPUT_DTYPES
from mbert_cli.modeling.pooling import MaskedMeanPooling

SIGNATURE_KEY = "serving_default"
# The serving function's argument order (ids, types, mask); names and dtypes are the model's.
INPUT_SPECS = tuple((name, INPUT_DTYPES[name]) for name in ("input_word_ids", "input_type_ids", "input_mask"))
# App-ready files (converters.app_metadata): every input int32, as MediaPipe Tasks feed them.
APP_INPUT_SPECS = tuple((name, "int32") for name, _dtype in INPUT_SPECS)
APP_OUTPUTS = {"classifier": "probabilities", "embedder": "embedding"}


def input_specs(app: str | None = None) -> tuple[tuple[str, str], ...]:
    """(name, dtype) of the serving function's arguments, in order."""
    return APP_INPUT_SPECS if app else INPUT_SPECS


def cast_rows(rows: dict, app: str | None = None) -> dict:
    """`rows` (model-dtype arrays) in the dtypes the serving function of `app` takes."""
    dtypes = dict(input_specs(app))
    return {name: arr.astype(dtypes[name]) if name in dtypes else arr for name, arr in rows.items()}


@dataclass(frozen=True)
class ServingFunction:
    """A traced serving function and the module that owns its variables."""

    module: Any  # tf.Module keeping the Keras model (and so its variables) alive
    concrete: Any  # tf ConcreteFunction with the named input signature
    output_names: tuple[str, ...]
    seq_len: int  # the longest length served (the position table's size for a dynamic file)
    batch_size: int
    # Signature key -> (its concrete function, the length it serves; None = resizable).
    # One entry (`serving_default`) for a single-length or dynamic file.
    functions: dict[str, tuple[Any, int | None]] = field(default_factory=dict)
    # The same serving computation on any batch and length ([None, None] inputs), kept off
    # the module so no file carries it: TensorFlow's reference outputs for the checks are
    # computed with it in batches, not row by row (1,000 rows at batch 1 cost ~9 s a length).
    batched: Any = None
    app: str | None = None  # classifier | embedder: int32 inputs and the app's output

    @property
    def concretes(self) -> list:
        return [fn for fn, _ in self.functions.values()]


def build_serving_functions(model: Any, signatures: dict[str, int | None], batch_size: int = 1,
                            output_names: tuple[str, ...] | None = None,
                            max_len: int | None = None, app: str | None = None) -> ServingFunction:
    """One serving function per signature key, all on the same model (so the converter
    writes the weights once and every signature's subgraph reads the same buffers).

    Args:
        model: tf_keras model taking `input_word_ids`, `input_mask`, `input_type_ids`.
        signatures: key -> fixed sequence length, or None for a resizable [batch, -1] input.
        batch_size: fixed batch dimension (1 on a phone).
        output_names: keys of the model's output dict to export; default all tensor outputs.
        max_len: the longest length served (needed when a signature is resizable).
        app: `classifier` (softmax over `logits`) or `embedder` (masked mean of
            `sequence_output`, L2-normalised), both with int32 inputs; None: the model's outputs.
            A resizable app-ready signature also cuts rows longer than `max_len` to
            [CLS] + the first max_len-2 tokens + [SEP] (MediaPipe does not truncate dynamic inputs).
    """
    probe_len = max([n for n in signatures.values() if n] or [max_len or 8])
    probe = model({name: tf.zeros([batch_size, probe_len], getattr(tf, dtype))
                   for name, dtype in INPUT_SPECS}, training=False)
    if not isinstance(probe, dict):
        probe = {"output": probe}
    names = tuple(output_names) if output_names else tuple(
        k for k, v in probe.items() if isinstance(v, tf.Tensor))
    if app:
        needed = "logits" if app == "classifier" else "sequence_output"
        if needed not in probe:
            raise ValueError(f"an app-ready {app} needs a model output {needed!r}; it has {sorted(probe)}")
        names = (APP_OUTPUTS[app],)
    specs_in = input_specs(app)
    cap = max_len or max([n for n in signatures.values() if n] or [0]) or None

    class _Serving(tf.Module):
        def __init__(self):
            super().__init__(name="serving")
            self.model = model

    module = _Serving()

    def serve(input_word_ids, input_type_ids, input_mask):
        if app:
            input_word_ids, input_type_ids, input_mask = _app_inputs(input_word_ids, input_type_ids, input_mask, cap)
        out = module.model({"input_word_ids": input_word_ids, "input_mask": input_mask,
                            "input_type_ids": input_type_ids}, training=False)
        if not isinstance(out, dict):
            out = {"output": out}
        if app:
            out = {names[0]: _app_output(app, out, input_mask)}
        return {name: tf.identity(out[name], name=name) for name in names}

    functions = {}
    for key, length in signatures.items():
        specs = [tf.TensorSpec([batch_size, length], getattr(tf, dtype), name=name)
                 for name, dtype in specs_in]
        # The converter names each signature after its function's graph, so each gets its key.
        fn = tf.function(_named(serve, key), input_signature=specs)
        setattr(module, f"serve_{key}", fn)
        functions[key] = (fn.get_concrete_function(), length)
    batched = tf.function(serve, input_signature=[tf.TensorSpec([None, None], getattr(tf, dtype), name=name)
                                                  for name, dtype in specs_in])
    first = next(iter(functions.values()))[0] if len(functions) == 1 else \
        max(functions.values(), key=lambda f: f[1] or 0)[0]
    longest = max([n for n in signatures.values() if n] or [max_len or 0])
    return ServingFunction(module, first, names, max(longest, max_len or 0), batch_size, functions, batched, app)


def _app_inputs(ids, types, mask, cap: int | None):
    """int32 inputs -> the model's (float32 mask); rows longer than `cap` keep their last
    token ([SEP]) after the first cap-1, as BERT truncates one sentence."""
    if cap and ids.shape[1] is None:
        n = tf.shape(ids)[1]
        keep = tf.minimum(n, cap) - 1

        def cut(x):
            return tf.concat([x[:, :keep], x[:, n - 1:]], axis=1)

        ids, types, mask = cut(ids), cut(types), cut(mask)
    return ids, types, tf.cast(mask, INPUT_DTYPES["input_mask"])


def _app_output(app: str, out: dict, mask):
    """What the app reads: softmax probabilities, or the mean-pooled, L2-normalised embedding."""
    if app == "classifier":
        return tf.nn.softmax(out["logits"], axis=-1)
    pooled = MaskedMeanPooling()(out["sequence_output"], mask)
    return tf.math.l2_normalize(pooled, axis=-1)


def _named(fn, name: str):
    def wrapper(input_word_ids, input_type_ids, input_mask):
        return fn(input_word_ids, input_type_ids, input_mask)

    wrapper.__name__ = name
    return wrapper
