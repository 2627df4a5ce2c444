"""The serving function: named int32/float32 inputs and one named output per head.

Full-integer conversion may reorder a model's inputs, so every exported file carries a
named signature and all code looks tensors up by name. The mask is float32 so the graph
needs no Cast op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mbert_cli.modeling.encoders import INPUT_DTYPES

SIGNATURE_KEY = "serving_default"
# The serving function's argument order (ids, types, mask); names and dtypes are the model's.
INPUT_SPECS = tuple((name, INPUT_DTYPES[name]) for name in ("input_word_ids", "input_type_ids", "input_mask"))


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

    @property
    def concretes(self) -> list:
        return [fn for fn, _ in self.functions.values()]


def build_serving_functions(model: Any, signatures: dict[str, int | None], batch_size: int = 1,
                            output_names: tuple[str, ...] | None = None,
                            max_len: int | None = None) -> ServingFunction:
    """One serving function per signature key, all on the same model (so the converter
    writes the weights once and every signature's subgraph reads the same buffers).

    Args:
        model: tf_keras model taking `input_word_ids`, `input_mask`, `input_type_ids`.
        signatures: key -> fixed sequence length, or None for a resizable [batch, -1] input.
        batch_size: fixed batch dimension (1 on a phone).
        output_names: keys of the model's output dict to export; default all tensor outputs.
        max_len: the longest length served (needed when a signature is resizable).
    """
    import tensorflow as tf  # noqa: PLC0415

    probe_len = max([n for n in signatures.values() if n] or [max_len or 8])
    probe = model({name: tf.zeros([batch_size, probe_len], getattr(tf, dtype))
                   for name, dtype in INPUT_SPECS}, training=False)
    if not isinstance(probe, dict):
        probe = {"output": probe}
    names = tuple(output_names) if output_names else tuple(
        k for k, v in probe.items() if isinstance(v, tf.Tensor))

    class _Serving(tf.Module):
        def __init__(self):
            super().__init__(name="serving")
            self.model = model

    module = _Serving()

    def serve(input_word_ids, input_type_ids, input_mask):
        out = module.model({"input_word_ids": input_word_ids, "input_mask": input_mask,
                            "input_type_ids": input_type_ids}, training=False)
        if not isinstance(out, dict):
            out = {"output": out}
        return {name: tf.identity(out[name], name=name) for name in names}

    functions = {}
    for key, length in signatures.items():
        specs = [tf.TensorSpec([batch_size, length], getattr(tf, dtype), name=name)
                 for name, dtype in INPUT_SPECS]
        # The converter names each signature after its function's graph, so each gets its key.
        fn = tf.function(_named(serve, key), input_signature=specs)
        setattr(module, f"serve_{key}", fn)
        functions[key] = (fn.get_concrete_function(), length)
    batched = tf.function(serve, input_signature=[tf.TensorSpec([None, None], getattr(tf, dtype), name=name)
                                                  for name, dtype in INPUT_SPECS])
    first = next(iter(functions.values()))[0] if len(functions) == 1 else \
        max(functions.values(), key=lambda f: f[1] or 0)[0]
    longest = max([n for n in signatures.values() if n] or [max_len or 0])
    return ServingFunction(module, first, names, max(longest, max_len or 0), batch_size, functions, batched)


def _named(fn, name: str):
    def wrapper(input_word_ids, input_type_ids, input_mask):
        return fn(input_word_ids, input_type_ids, input_mask)

    wrapper.__name__ = name
    return wrapper
