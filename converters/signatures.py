"""The serving function: named int32/float32 inputs and one named output per head.

Full-integer conversion may reorder a model's inputs, so every exported file carries a
named signature and all code looks tensors up by name. The mask is float32 so the graph
needs no Cast op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIGNATURE_KEY = "serving_default"
INPUT_SPECS = (("input_word_ids", "int32"), ("input_type_ids", "int32"), ("input_mask", "float32"))


@dataclass(frozen=True)
class ServingFunction:
    """A traced serving function and the module that owns its variables."""

    module: Any  # tf.Module keeping the Keras model (and so its variables) alive
    concrete: Any  # tf ConcreteFunction with the named input signature
    output_names: tuple[str, ...]
    seq_len: int
    batch_size: int


def build_serving_function(model: Any, seq_len: int, batch_size: int = 1,
                           output_names: tuple[str, ...] | None = None) -> ServingFunction:
    """Wraps a Keras model (inputs dict -> outputs dict) in a fixed-shape serving function.

    Args:
        model: tf_keras model taking `input_word_ids`, `input_mask`, `input_type_ids`.
        seq_len: fixed sequence length of the exported file (phones run fixed shapes).
        batch_size: fixed batch dimension (1 on a phone).
        output_names: keys of the model's output dict to export; default all tensor outputs.
    """
    import tensorflow as tf  # noqa: PLC0415

    specs = [tf.TensorSpec([batch_size, seq_len], getattr(tf, dtype), name=name)
             for name, dtype in INPUT_SPECS]
    probe = model({name: tf.zeros([batch_size, seq_len], getattr(tf, dtype))
                   for name, dtype in INPUT_SPECS}, training=False)
    if not isinstance(probe, dict):
        probe = {"output": probe}
    names = tuple(output_names) if output_names else tuple(
        k for k, v in probe.items() if isinstance(v, tf.Tensor))

    class _Serving(tf.Module):
        def __init__(self):
            super().__init__(name="serving")
            self.model = model

        @tf.function(input_signature=specs)
        def serve(self, input_word_ids, input_type_ids, input_mask):
            out = self.model({"input_word_ids": input_word_ids, "input_mask": input_mask,
                              "input_type_ids": input_type_ids}, training=False)
            if not isinstance(out, dict):
                out = {"output": out}
            return {name: tf.identity(out[name], name=name) for name in names}

    module = _Serving()
    return ServingFunction(module, module.serve.get_concrete_function(), names, seq_len, batch_size)
