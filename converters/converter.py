"""`convert()`: a Keras model -> verified TFLite files + manifest, one file per mode.

Order matters for "nothing half-written": every mode is converted and verified in memory
first; files and the manifest are written (temporary name, then rename) only when all
passed.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converters import quantize, verify
from converters.attention_mask import DEFAULT_CLIP, clip_attention_masks
from converters.data import ExportData
from converters.signatures import SIGNATURE_KEY, build_serving_function
from mbert_cli.errors import MbertError

log = logging.getLogger(__name__)


@dataclass
class ExportOptions:
    """What to produce and how strictly to check it."""

    modes: tuple[str, ...] = ("none",)
    seq_len: int = 128
    representative: int = 100
    max_drop: float = 1.0  # task-metric points an int8/float16/dynamic file may lose
    force: bool = False  # hand over files that fail the metric or parity gate (figures still recorded)
    allow_flex: bool = False
    mask_clip: float | None = DEFAULT_CLIP  # None keeps tf_keras' -1e9 mask (only for experiments)
    require_opt_graph: bool = False  # NoNorm/ReLU models: no LayerNorm statistics ops, no GELU
    # int8: keep attention matmuls, softmax and the mask add in float so XNNPACK runs the
    # graph in 2 partitions, not 50 (quantize.convert_int8_float_attention; measured 0.93x of
    # dynamic range vs 2.03x all-int8 on mobilebert seq 128, benchmarks/suite/export_latency.py).
    int8_float_attention: bool = True
    thresholds: verify.ParityThresholds = field(default_factory=verify.ParityThresholds)


@dataclass
class ConvertedFile:
    """One verified flatbuffer (held in memory until written)."""

    file: str
    mode: str
    seq_len: int
    content: bytes = field(repr=False)
    sha256: str
    size_bytes: int
    signature: dict
    ops: dict[str, int]
    non_builtin_ops: list[str]
    parity: dict | None
    task_metric: dict | None
    gate_failures: list[str]

    def manifest_entry(self) -> dict:
        d = asdict(self)
        d.pop("content")
        return d


def file_name(model_name: str, mode: str, seq_len: int) -> str:
    return f"{model_name}_{mode}_seq{seq_len}.tflite"


def check_modes(modes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validates and de-duplicates modes, keeping order."""
    if not modes:
        raise MbertError("no quantization mode given", hint=f"pass --quantize with one or more of: {', '.join(quantize.MODES)}")
    for m in modes:
        quantize.recipe(m)
    return tuple(dict.fromkeys(modes))


def check_writable(out_dir: str | Path, create: bool = False) -> Path:
    """Fails early (before minutes of conversion) if the output folder cannot be written.

    Without `create` nothing is made on disk: the nearest existing ancestor must be a
    writable folder, so a command that fails later leaves no empty folder behind.
    """
    out = Path(out_dir)
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise MbertError(f"cannot create output folder {out}: {err.strerror}",
                             hint="choose a writable folder with --out") from None
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise MbertError(f"cannot create output folder {out}: {probe} is not a folder",
                         hint="choose a writable folder with --out")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise MbertError(f"output folder {out} is not writable", hint="choose a writable folder with --out")
    return out


def convert_bytes(serving: Any, mode: str, data: ExportData | None, representative: int,
                  float_attention: bool = False) -> bytes:
    """Runs the TFLite converter for one mode; Select TF ops are let through so they can be named."""
    import tensorflow as tf  # noqa: PLC0415

    rec = quantize.recipe(mode)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serving.concrete], serving.module)
    rep = None
    if rec.needs_representative:
        if data is None or len(data.representative["input_word_ids"]) == 0:
            raise MbertError("int8 needs a representative dataset and none is available",
                             hint="give the run task data, or raise --representative")
        rep = quantize.representative_dataset(data.representative, representative)
    rec.configure(converter, rep)
    # Converting with SELECT_TF_OPS allowed makes unsupported ops show up as named Flex ops
    # that verification reports, instead of an opaque converter failure.
    ops = set(converter.target_spec.supported_ops or {tf.lite.OpsSet.TFLITE_BUILTINS})
    converter.target_spec.supported_ops = ops | {tf.lite.OpsSet.SELECT_TF_OPS}
    nodes = None
    if mode == "int8" and float_attention:
        nodes = quantize.mask_add_nodes(convert_bytes(serving, "none", data, representative))
    try:
        with warnings.catch_warnings():
            # int8 calibration runs TF's own (deprecated) tf.lite.Interpreter: not ours to fix.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            if nodes is not None:
                return quantize.convert_int8_float_attention(converter, rep, nodes)
            return converter.convert()
    except Exception as err:  # noqa: BLE001 - converter errors are many types; one line for the user
        first = next((ln for ln in str(err).splitlines() if ln.strip()), type(err).__name__)
        raise MbertError(f"TFLite conversion ({mode}) failed: {first[:300]}",
                         hint="pass --debug for the converter's full log") from None


def convert(model: Any, *, model_name: str, options: ExportOptions, data: ExportData,
            progress: Callable[[str], None] | None = None) -> list[ConvertedFile]:
    """Converts and verifies `model` for every mode in `options`, in memory.

    Args:
        model: tf_keras model, inputs dict (input_word_ids, input_mask, input_type_ids) -> outputs dict.
        model_name: the `<model>` part of `<model>_<mode>_seq<N>.tflite`.
        options: modes, sequence length, gates.
        data: calibration and held-out rows (labels optional).
        progress: called with one short line per step (the CLI prints them).

    Returns:
        One ConvertedFile per mode; raises MbertError on the first failed gate unless forced.
    """
    say = progress or (lambda msg: log.info(msg))
    modes = check_modes(options.modes)
    clip_attention_masks(model, options.mask_clip)
    serving = build_serving_function(model, options.seq_len)
    reference = verify.run_tf(serving, data.heldout)
    float_metric = data.metric(reference)
    results = []
    for mode in modes:
        say(f"converting {mode} (seq {options.seq_len})")
        content = convert_bytes(serving, mode, data, options.representative, options.int8_float_attention)
        results.append(verify_bytes(content, mode, model_name, options, data, reference, float_metric, say))
    return results


def verify_bytes(content: bytes, mode: str, model_name: str, options: ExportOptions, data: ExportData,
                 reference: dict[str, np.ndarray], float_metric: float | None,
                 say: Callable[[str], None]) -> ConvertedFile:
    """All checks on one flatbuffer; raises MbertError naming the failed gate unless forced."""
    from converters.manifest import sha256_bytes  # noqa: PLC0415

    hist = verify.op_histogram(content)
    flex = verify.check_builtin_only(hist, options.allow_flex)
    if options.require_opt_graph:
        left = sorted(op for op in verify.NON_OPT_OPS if op in hist)
        if left:
            raise MbertError(f"the NoNorm/ReLU ({mode}) graph still contains {', '.join(left)}",
                             hint="a LayerNorm or GELU survived the OPT substitution; pass --debug and report it")
    failures: list[str] = []
    par = metric = None
    signature: dict = {}
    if flex:
        say(f"{mode}: contains {', '.join(flex)}; allowed by --allow-flex, parity not checked here")
    else:
        runner, info = verify.load_signature(content, SIGNATURE_KEY)
        signature = info.to_dict()
        outputs = verify.run_tflite(runner, data.heldout)
        p = verify.parity(reference, outputs)
        par = p.to_dict()
        reason = options.thresholds.check(mode, p)
        if reason:
            failures.append(f"parity: {reason}")
        q_metric = data.metric(outputs)
        if float_metric is not None and q_metric is not None:
            drop = float_metric - q_metric
            metric = {"name": data.metric_name, "tensorflow": float_metric, "tflite": q_metric, "drop": drop,
                      "examples": int(len(data.labels)), "max_drop": options.max_drop}
            if mode != "none" and drop > options.max_drop:
                failures.append(f"{data.metric_name} drops {drop:.2f} points "
                                f"({float_metric:.2f} -> {q_metric:.2f}) > --max-drop {options.max_drop:g}")
        say(f"{mode}: {len(content) / 1e6:.2f} MB, max|diff| {p.max_abs_diff:.3g}, cosine {p.cosine:.5f}, "
            f"top-1 {p.top1_agreement:.3f}" + (f", {data.metric_name} {q_metric:.2f} (TF {float_metric:.2f})"
                                               if metric else ""))
    if failures and not options.force:
        raise MbertError(f"{mode} export failed verification: {'; '.join(failures)}",
                         hint="inspect the figures above; --force writes the file anyway")
    return ConvertedFile(file=file_name(model_name, mode, options.seq_len), mode=mode, seq_len=options.seq_len,
                         content=content, sha256=sha256_bytes(content), size_bytes=len(content),
                         signature=signature, ops=hist, non_builtin_ops=flex, parity=par, task_metric=metric,
                         gate_failures=failures)


def write_files(out_dir: str | Path, files: list[ConvertedFile], header: dict,
                entry_extra: dict | None = None) -> Path:
    """Writes each file under a temporary name and renames it, then the manifest."""
    from converters.manifest import write_manifest  # noqa: PLC0415
    from mbert_cli.io_utils import atomic_write_bytes  # noqa: PLC0415

    out = check_writable(out_dir, create=True)
    for f in files:
        atomic_write_bytes(out / f.file, f.content)
    return write_manifest(out, header, [{**f.manifest_entry(), **(entry_extra or {})} for f in files])
