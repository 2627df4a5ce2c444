"""Per-layer quantization error: which tensors a quantized file gets wrong, worst first.

The float file and a `litert-quantizer` build of the same mode run side by side on held-out
rows (`Quantizer.validate`: every tensor of both files compared by name); each tensor's SNR
becomes a row named the way a person reads the model (encoder layer index; embedding,
attention, attention output, FFN in/out, norm, residual, head). The mixed-precision search
(converters/mixed_precision.py) takes its order from the same table.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils
from litert_quantizer import Quantizer
from litert_quantizer.utils.validation_utils import ValidationErrorMetric

from converters import quantize
from converters.lengths import truncate_rows
from converters.signatures import SIGNATURE_KEY
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import atomic_write_text

# Modes the library can rebuild for a diagnosis (float16 only rounds weights; none is the reference).
EXPLAINABLE_MODES = ("int8", "dynamic")
DIAGNOSIS_NAME = "quant_diagnosis.json"
# A tensor whose float values are all but zero has a meaningless SNR (the library divides by
# noise + 1e-9): it is listed but never ranked above real errors.
_NEAR_ZERO_POWER = 1e-10
_LAYER = re.compile(r"(?:transformer_layer|layer)_(\d+)/")


@dataclass(frozen=True)
class TensorError:
    """One tensor's quantization error against the float file."""

    tensor: str
    layer: int | None  # encoder layer index; None outside the encoder blocks
    part: str  # embedding, attention, attention_output, ffn_in, ffn_out, norm, residual, bottleneck, head, other
    snr_db: float  # 10 log10(signal power / noise power); higher is better
    rel_rmse: float  # sqrt(noise / signal power)
    signature: str = "serving_default"

    @property
    def group(self) -> str:
        """The search's unit: one part of one layer (`layer 3 ffn_out`)."""
        return f"layer {self.layer} {self.part}" if self.layer is not None else self.part


def part_of(name: str) -> str:
    """Which part of a transformer block a tensor belongs to, from its (tf-models) name."""
    low = name.lower()
    if "embedding" in low:
        return "embedding"
    if "bottleneck" in low:
        return "bottleneck"
    if "norm" in low:
        return "norm"
    if "attention_output" in low or re.search(r"attention/attention_output|attention/output", low):
        return "attention_output"
    if "attention" in low or "self_attention" in low:
        return "attention"
    if re.search(r"intermediate|gelu|ffn_layer_\d+/(?!output)|/ffn/(?!output)", low):
        return "ffn_in"
    if re.search(r"output_dense|/output/|ffn.*output", low):
        return "ffn_out"
    if _LAYER.search(name) and re.search(r"/add(_\d+)?[;:$]?|/add(_\d+)?$", low):
        return "residual"
    if _LAYER.search(name):
        return "other"
    if re.search(r"pool|classifier|logits|cls|head|dense", low):
        return "head"
    return "other"


def layer_of(name: str) -> int | None:
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def _row(name: str, metrics: dict, signature: str) -> TensorError | None:
    snr, mse = metrics.get("snr"), metrics.get("mse")
    if snr is None or mse is None or not math.isfinite(snr):
        return None
    if snr * mse < _NEAR_ZERO_POWER:
        return None
    snr_db = 10 * math.log10(max(snr, 1e-12))
    return TensorError(tensor=name, layer=layer_of(name), part=part_of(name), snr_db=snr_db,
                       rel_rmse=1 / math.sqrt(max(snr, 1e-12)), signature=signature)


def compare(float_model: bytes, quantized: bytes, test_data: dict[str, list[dict]]) -> list[TensorError]:
    """Every intermediate and output tensor of `quantized` against `float_model`, worst SNR first."""
    with quiet_library():
        result = Quantizer(float_model, previous_quantized_model=quantized).validate(
            test_data, error_metrics=[ValidationErrorMetric.SNR, ValidationErrorMetric.MSE], num_threads=1)
    rows = []
    for key in result.available_signature_keys():
        res = result.get_signature_comparison_result(key)
        for name, metrics in {**res.intermediate_tensors, **res.output_tensors}.items():
            row = _row(name, metrics, key)
            if row is not None:
                rows.append(row)
    return sorted(rows, key=lambda r: r.snr_db)


def groups_worst_first(rows: list[TensorError]) -> list[tuple[str, list[str]]]:
    """(group label, its tensor names) ordered by the group's worst tensor; the head and the
    embedding are groups too."""
    groups: dict[str, list[TensorError]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    ordered = sorted(groups.items(), key=lambda kv: min(r.snr_db for r in kv[1]))
    return [(label, sorted({r.tensor for r in members})) for label, members in ordered]


def table(rows: list[TensorError], limit: int = 15, title: str = "") -> str:
    """The worst groups as text: group, worst tensor's SNR (dB) and relative RMSE, tensor name."""
    lines = [title] if title else []
    lines.append(f"{'rank':>4}  {'layer':>5}  {'part':<16} {'SNR dB':>7}  {'rel RMSE':>8}  tensor")
    seen: set[str] = set()
    for r in rows:
        if r.group in seen:
            continue
        seen.add(r.group)
        layer = "-" if r.layer is None else str(r.layer)
        lines.append(f"{len(seen):>4}  {layer:>5}  {r.part:<16} {r.snr_db:>7.1f}  {r.rel_rmse:>8.4f}  {r.tensor}")
        if len(seen) >= limit:
            break
    return "\n".join(lines)


def to_json(rows: list[TensorError]) -> list[dict]:
    return [{**asdict(r), "group": r.group} for r in rows]


def write(out_dir: str | Path, diagnoses: dict[str, list[TensorError] | list[dict]]) -> Path:
    """`quant_diagnosis.json` beside the files: mode -> every tensor's row (TensorError or its
    `to_json` form), worst first."""
    path = Path(out_dir) / DIAGNOSIS_NAME
    table = {m: [r if isinstance(r, dict) else {**asdict(r), "group": r.group} for r in rows]
             for m, rows in diagnoses.items()}
    atomic_write_text(path, json.dumps(table, indent=1) + "\n")
    return path


def check_explainable(modes: tuple[str, ...] | list[str]) -> None:
    """--explain needs a quantized mode the library can rebuild: one line otherwise."""
    if not any(m in EXPLAINABLE_MODES for m in modes):
        raise MbertError(f"--explain needs a quantized mode ({' or '.join(EXPLAINABLE_MODES)}); "
                         f"this export asks for {', '.join(modes) or 'none'}",
                         hint="add --quantize int8 (or dynamic), or drop --explain")


@contextlib.contextmanager
def quiet_library() -> Iterator[None]:
    """The library's progress bars (tqdm, on stderr) would interleave with the export's lines."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def signature_rows(serving: Any, data: Any, count: int) -> dict[str, list[dict]]:
    """Rows per signature key, batch 1, in the float file's input dtypes (the library's data format):
    the held-out rows (`count` of them) truncated to each fixed signature's length."""
    functions = getattr(serving, "functions", None) or {SIGNATURE_KEY: (None, None)}
    longest = len(data.heldout["input_word_ids"][0])
    out = {}
    for key, (_fn, n) in functions.items():
        rows = truncate_rows(data.heldout, n or longest)
        k = SIGNATURE_KEY if len(functions) == 1 else key
        total = min(count, len(rows["input_word_ids"]))
        out[k] = [{name: np.ascontiguousarray(arr[i:i + 1]) for name, arr in rows.items()} for i in range(total)]
    return out


def calibration_rows(serving: Any, data: Any, count: int) -> dict[str, list[dict]]:
    """The export's own calibration rows (`quantize.calibration_dataset`) grouped per signature key."""
    out: dict[str, list[dict]] = {}
    for item in quantize.calibration_dataset(serving, data, count)():
        key, row = item if isinstance(item, tuple) else (SIGNATURE_KEY, item)
        out.setdefault(key, []).append(row)
    return out


def library_build(float_model: bytes, recipe: list[dict], calibration: dict | None) -> bytes:
    """A `litert-quantizer` build of `float_model` with `recipe` (calibration: `calibrate()`'s QSVs)."""
    try:
        with quiet_library():
            result = Quantizer(float_model, recipe).quantize(calibration, enable_progress_report=False)
    except (ValueError, RuntimeError, KeyError) as err:
        raise MbertError(f"litert-quantizer could not build the file: {str(err).splitlines()[0][:300]}",
                         hint="pass --debug for the library's full message") from None
    return inline_buffers(bytes(result.quantized_model))


def inline_buffers(content: bytes) -> bytes:
    """`content` with every weight inside its flatbuffer, as the TensorFlow converter writes them.

    Above 256 kB of weights litert-quantizer stores them after the flatbuffer, found by
    (offset, size) fields. The interpreter reads that layout, but tools that rebuild the
    flatbuffer through its object API drop the bytes outside it: MediaPipe's metadata populator
    wrote a 0.3 MB app-ready file for a 90 MB model that no runtime could load. So a library
    build is rewritten in the ordinary layout (the library's own path for small models).
    """
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    external = [b for b in model.buffers or [] if b.offset > 1]
    if not external:
        return content
    view = np.frombuffer(content, dtype=np.uint8)
    for buffer in external:
        buffer.data = view[buffer.offset:buffer.offset + buffer.size].copy()
        buffer.offset = buffer.size = 0
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def calibrate(float_model: bytes, rows: dict[str, list[dict]]) -> dict:
    """Min/max of every tensor of `float_model` on the calibration rows (one pass; every recipe reuses it)."""
    with quiet_library():
        return Quantizer(float_model, quantize.library_int8_recipe([], float_attention=False)).calibrate(
            rows, num_threads=1)


@dataclass
class Diagnosis:
    """One mode's table and the library build it was measured on."""

    mode: str
    rows: list[TensorError]
    quantized: bytes

    def text(self, limit: int = 15) -> str:
        return table(self.rows, limit, title=f"{self.mode}: per-layer quantization error (worst first, "
                                              f"litert-quantizer validate, {len(self.rows)} tensors)")


def diagnose(float_model: bytes, mode: str, serving: Any, data: Any, representative: int,
             float_attention: bool = True, test_rows: int = 16, calibration: dict | None = None) -> Diagnosis:
    """The table for `mode` (int8: the export's recipe, attention float unless --int8-full; dynamic)."""
    if mode not in EXPLAINABLE_MODES:
        raise MbertError(f"no diagnosis for mode {mode!r}", hint=f"--explain covers {', '.join(EXPLAINABLE_MODES)}")
    if mode == "int8":
        calibration = calibration or calibrate(float_model, calibration_rows(serving, data, representative))
        recipe = quantize.library_int8_recipe(quantize.mask_add_nodes(float_model), float_attention)
    else:
        calibration, recipe = None, quantize.library_dynamic_recipe()
    built = library_build(float_model, recipe, calibration)
    return Diagnosis(mode, compare(float_model, built, signature_rows(serving, data, test_rows)), built)
