"""Quantization recipes: named factories that configure a TFLiteConverter.

`none` (float32), `dynamic` (int8 weights, float activations), `int8` (full integer with a
calibration set; int32/float32 inputs and float32 outputs kept so callers feed the same
tensors as for float), `float16` (float16 weights).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from converters.attention_mask import MASKED_SCORES_NAME
from converters.lengths import calibration_windows
from mbert_cli.config.export import QUANTIZATION_MODES
from mbert_cli.errors import MbertError
from mbert_cli.runtime import load_runtime

MODES = QUANTIZATION_MODES
QUANTIZED_MODES = ("dynamic", "int8", "float16")


@dataclass(frozen=True)
class Recipe:
    """How one mode sets up the converter."""

    mode: str
    needs_representative: bool
    configure: Callable[[Any, Callable[[], Iterable[list]] | None], None]


def _none(converter: Any, representative: Any) -> None:
    converter.optimizations = []


def _dynamic(converter: Any, representative: Any) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _int8(converter: Any, representative: Any) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    # TFLITE_BUILTINS_INT8 alone would refuse float-only ops; keeping TFLITE_BUILTINS lets
    # the few ops with no int8 kernel stay float instead of failing the conversion.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                           tf.lite.OpsSet.TFLITE_BUILTINS]
    # Inputs stay int32 ids / float32 mask and outputs float32: same feeding code for all modes.
    converter.inference_input_type = tf.float32
    converter.inference_output_type = tf.float32


def _float16(converter: Any, representative: Any) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def none() -> Recipe:
    """Float32, no quantization."""
    return Recipe("none", False, _none)


def dynamic() -> Recipe:
    """Dynamic range: int8 weights, activations quantized on the fly."""
    return Recipe("dynamic", False, _dynamic)


def int8() -> Recipe:
    """Full integer with a representative dataset; float interface kept."""
    return Recipe("int8", True, _int8)


def float16() -> Recipe:
    """Float16 weights (dequantized to float32 on CPU)."""
    return Recipe("float16", False, _float16)


_FACTORIES = {"none": none, "dynamic": dynamic, "int8": int8, "float16": float16}


def recipe(mode: str) -> Recipe:
    """The recipe for `mode`; an unknown mode is a user error naming the valid ones."""
    try:
        return _FACTORIES[mode]()
    except KeyError:
        raise MbertError(f"unknown quantization mode {mode!r}",
                         hint=f"choose from: {', '.join(MODES)}") from None


def representative_dataset(examples: dict, count: int) -> Callable[[], Iterable[dict]]:
    """Calibration generator over the first `count` rows of `examples` (name -> array), batch 1."""
    n = min(count, len(next(iter(examples.values()))))

    def gen():
        for i in range(n):
            yield {name: np.asarray(arr[i:i + 1]) for name, arr in examples.items()}

    return gen


# Ops XNNPACK refuses in int8 (BATCH_MATMUL with a non-zero right-hand zero point, SOFTMAX)
# plus the mask add (its scale is outside XNNPACK's range): quantized, they split the graph
# into dozens of partitions that run on slow reference kernels (MOBILEBERT.md).
FLOAT_ATTENTION_OPS = ("SOFTMAX", "BATCH_MATMUL")


def convert_int8_float_attention(converter, representative, mask_add_nodes: list[str]) -> bytes:
    """Full-integer int8 except attention's matmuls, softmax and mask add, which stay float.

    Uses the calibrated model's op/node denylist through TensorFlow's public
    `QuantizationDebugger` route. `converter` must already be configured by `int8()`.
    """
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_ops=list(FLOAT_ATTENTION_OPS), denylisted_nodes=list(mask_add_nodes))
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative, debug_options=options)
    return debugger.get_nondebug_quantized_model()


def mask_add_nodes(float_model: bytes) -> list[str]:
    """Names of the clipped mask-add tensors in a float flatbuffer (see attention_mask), in
    every subgraph: a file with one signature per length names them differently in each,
    and a name missed here leaves that length's mask add int8 (and XNNPACK splits that
    signature's graph into many partitions)."""
    # The converter keeps tensor names unique across subgraphs by appending a counter
    # (`..._scores`, `..._scores1`, ...).
    pattern = re.compile(re.escape(MASKED_SCORES_NAME) + r"\d*$")
    interp = load_runtime().interpreter(model_content=float_model)
    subgraphs = {interp._interpreter.GetSubgraphIndexFromSignature(k)  # noqa: SLF001 - no public form
                 for k in interp.get_signature_list()} or {0}
    return sorted({t["name"] for s in sorted(subgraphs) for t in interp.get_tensor_details(subgraph_index=s)
                   if pattern.search(t["name"])})


# Recipes for `litert-quantizer` (Google's per-op/per-scope quantizer for LiteRT files): a list
# of {regex, operation, algorithm_key, op_config}; regexes match op output tensor names of the
# float file and, where several entries match, the last one wins.
LIBRARY_PRECISIONS = ("int8", "int16", "float")
_MIN_MAX = "min_max_uniform_quantize"
_NO_QUANTIZE = "no_quantize"


def _static_config(activation_bits: int) -> dict:
    return {"activation_tensor_config": {"num_bits": activation_bits, "symmetric": activation_bits == 16,
                                         "granularity": "TENSORWISE", "dtype": "INT"},
            "weight_tensor_config": {"num_bits": 8, "symmetric": True, "granularity": "CHANNELWISE",
                                     "dtype": "INT"},
            "compute_precision": "INTEGER", "explicit_dequantize": False, "skip_checks": False,
            "min_weight_elements": 0}


def library_entry(regex: str, precision: str, operation: str = "*") -> dict:
    """One recipe entry: `precision` int8 (8-bit activations), int16 (16-bit activations,
    8-bit weights) or float (left unquantized) for the ops whose output name matches `regex`."""
    if precision not in LIBRARY_PRECISIONS:
        raise MbertError(f"unknown precision {precision!r}", hint=f"choose from: {', '.join(LIBRARY_PRECISIONS)}")
    if precision == "float":
        return {"regex": regex, "operation": operation, "algorithm_key": _NO_QUANTIZE}
    return {"regex": regex, "operation": operation, "algorithm_key": _MIN_MAX,
            "op_config": _static_config(16 if precision == "int16" else 8)}


def library_int8_recipe(mask_add_nodes: list[str], float_attention: bool = True,
                        overrides: list[tuple[str, str]] = ()) -> list[dict]:
    """Full int8 for litert-quantizer, then `overrides` ((regex, precision) pairs, in order);
    with `float_attention`, last, the same float attention as `convert_int8_float_attention`
    (softmax, attention matmuls and mask add stay float whatever an override says)."""
    entries = [library_entry(".*", "int8")] + [library_entry(rx, prec) for rx, prec in overrides]
    if float_attention:
        entries += [library_entry(".*", "float", op) for op in FLOAT_ATTENTION_OPS]
        if mask_add_nodes:
            entries.append(library_entry(exact_names_regex(mask_add_nodes), "float"))
    # The graph's inputs and outputs stay float (INPUT/OUTPUT are the library's virtual ops):
    # the same feeding code as every other mode.
    return entries + [library_entry(".*", "float", "INPUT"), library_entry(".*", "float", "OUTPUT")]


def library_dynamic_recipe() -> list[dict]:
    """Dynamic range for litert-quantizer: int8 weights, float activations quantized on the fly."""
    return [{"regex": ".*", "operation": "*", "algorithm_key": _MIN_MAX,
             "op_config": {"weight_tensor_config": {"num_bits": 8, "symmetric": True,
                                                    "granularity": "CHANNELWISE", "dtype": "INT"},
                           "compute_precision": "INTEGER", "explicit_dequantize": False,
                           "skip_checks": False, "min_weight_elements": 0}}]


def exact_names_regex(names: list[str]) -> str:
    """A regex matching the ops whose first output is one of these tensors, and no other: the
    library's scope of an op is its output names, each followed by `;`."""
    return "^(?:" + "|".join(re.escape(n) for n in sorted(names)) + ");"


def calibration_dataset(serving: Any, data: Any, count: int):
    """Calibration rows; with one signature per length, the longest is calibrated on the
    first `count` rows and every shorter one on those rows' windows (`calibration_windows`:
    same words seen, same word-table scale, one stored table); the calibrator takes
    (signature key, inputs) pairs then."""
    functions = getattr(serving, "functions", None) or {}
    fixed = {k: n for k, (_fn, n) in functions.items() if n}
    if len(functions) <= 1:
        return representative_dataset(data.representative, count)
    rows = {name: np.asarray(arr[:count]) for name, arr in data.representative.items()}
    windows = {k: calibration_windows(rows, n) for k, n in fixed.items()}
    per_key = {k: representative_dataset(w, len(w["input_word_ids"])) for k, w in windows.items()}

    def gen():
        for key, rows in per_key.items():
            for row in rows():
                yield key, row

    return gen
