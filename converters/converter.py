"""`convert()`: a Keras model -> verified TFLite files + manifest, one file per mode.

Order matters for "nothing half-written": every mode is converted and verified in memory
first; files and the manifest are written (temporary name, then rename) only when all
passed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from converters import app_metadata, mixed_precision, quant_diagnosis, quantize, verify
from converters.attention_mask import DEFAULT_CLIP, clip_attention_masks
from converters.data import ExportData
from converters.lengths import LengthSpec, truncate_rows
from converters.manifest import sha256_bytes, write_manifest
from converters.shared_tables import share_quantization
from converters.signatures import SIGNATURE_KEY, build_serving_functions
from mbert_cli.errors import MbertError, first_line
from mbert_cli.io_utils import atomic_write_bytes

log = logging.getLogger(__name__)


@dataclass
class ExportOptions:
    """What to produce and how strictly to check it."""

    modes: tuple[str, ...] = ("none",)
    seq_len: int = 128  # the export data's length; with `lengths`, their longest
    # Several lengths (one signature each, shared weights) or dynamic; None: `seq_len` alone.
    lengths: LengthSpec | None = None
    representative: int = 100
    max_drop: float = 1.0  # task-metric points an int8/float16/dynamic file may lose
    force: bool = False  # hand over files that fail the metric or parity gate (figures still recorded)
    allow_flex: bool = False
    mask_clip: float | None = DEFAULT_CLIP  # None keeps tf_keras' -1e9 mask (only for experiments)
    require_opt_graph: bool = False  # NoNorm/ReLU models: no LayerNorm statistics ops, no GELU
    # int8: keep attention matmuls, softmax and the mask add in float so XNNPACK runs the
    # graph in a few partitions instead of one per op (quantize.convert_int8_float_attention;
    # the latency it buys: studies/export_latency.py, docs/results-archive.md).
    int8_float_attention: bool = True
    thresholds: verify.ParityThresholds = field(default_factory=verify.ParityThresholds)
    # int8 failing the gate: search a mixed-precision file that passes (None: fail as is).
    search: mixed_precision.SearchBudget | None = field(default_factory=mixed_precision.SearchBudget)
    explain: bool = False  # per-layer quantization error table for int8/dynamic (quant_diagnosis)
    app: Any = None  # converters.app_metadata.AppSpec: int32 inputs, app output, MediaPipe metadata

    def length_spec(self) -> LengthSpec:
        return self.lengths or LengthSpec((self.seq_len,))


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
    seq_lens: list[int] = field(default_factory=list)  # lengths served by fixed signatures
    dynamic: bool = False  # one resizable signature, any length up to seq_len
    # One entry per signature: key, seq_len (None: resizable), inputs/outputs, and the
    # parity and task-metric figures at each length checked.
    signatures: list[dict] = field(default_factory=list)
    mixed_precision: dict | None = None  # the search's recipe and trace, when it replaced a failing int8 file
    diagnosis: list | None = field(default=None, repr=False)  # --explain rows (quant_diagnosis.json, not the manifest)
    app_metadata: dict | None = None  # kind, labels, metadata sha256 and size (app-ready files)

    def manifest_entry(self) -> dict:
        d = asdict(self)
        d.pop("content")
        d.pop("diagnosis")
        return d


def file_name(model_name: str, mode: str, seq_len: int | LengthSpec) -> str:
    """`student_int8_seq128.tflite`, `..._seq32-64-128.tflite` (one signature per length), `..._seqdyn`."""
    tag = seq_len.file_tag() if isinstance(seq_len, LengthSpec) else str(seq_len)
    return f"{model_name}_{mode}_seq{tag}.tflite"


@dataclass
class LengthCheck:
    """What one signature is checked on: its rows, TensorFlow's outputs on them, the float metric."""

    key: str
    seq_len: int
    rows: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]
    float_metric: float | None
    fixed: bool = True  # False: a resizable signature checked at this length


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


@contextlib.contextmanager
def saved_once(serving: Any) -> Iterator[str]:
    """The serving module written once as a SavedModel (a temporary folder, removed after).

    Why: converting from concrete functions saves and reloads the whole Keras model into a
    SavedModel on every call (about 11 s for the MiniLM student); every mode converted from
    one saved copy pays that once. The signatures are what the concrete-function route
    writes: `serving_default` for one function, else one per key.
    """
    folder = tempfile.mkdtemp(prefix="mbert-export-")
    try:
        signatures = {key: fn for key, (fn, _n) in serving.functions.items()}
        if len(signatures) == 1:
            signatures = {SIGNATURE_KEY: next(iter(signatures.values()))}
        tf.saved_model.save(serving.module, folder, signatures=signatures,
                            options=tf.saved_model.SaveOptions(save_debug_info=True))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def convert_bytes(serving: Any, mode: str, data: ExportData | None, representative: int,
                  float_attention: bool = False, float_model: bytes | None = None,
                  saved_model: str | None = None) -> bytes:
    """Runs the TFLite converter for one mode; Select TF ops are let through so they can be named.

    `float_model`: this serving function's float32 file if already converted (int8 with
    float attention reads the mask-add names from it instead of converting it again).
    `saved_model`: the serving module already saved by `saved_once` (converted from there).
    """
    rec = quantize.recipe(mode)
    if saved_model is not None:
        keys = list(serving.functions) if len(serving.functions) > 1 else [SIGNATURE_KEY]
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=keys)
    else:
        concretes = getattr(serving, "concretes", None) or [serving.concrete]
        converter = tf.lite.TFLiteConverter.from_concrete_functions(concretes, serving.module)
    rep = None
    if rec.needs_representative:
        if data is None or len(data.representative["input_word_ids"]) == 0:
            raise MbertError("int8 needs a representative dataset and none is available",
                             hint="give the run task data, or raise --representative")
        rep = quantize.calibration_dataset(serving, data, representative)
    rec.configure(converter, rep)
    # Converting with SELECT_TF_OPS allowed makes unsupported ops show up as named Flex ops
    # that verification reports, instead of an opaque converter failure.
    ops = set(converter.target_spec.supported_ops or {tf.lite.OpsSet.TFLITE_BUILTINS})
    converter.target_spec.supported_ops = ops | {tf.lite.OpsSet.SELECT_TF_OPS}
    nodes = None
    if mode == "int8" and float_attention:
        nodes = quantize.mask_add_nodes(float_model or convert_bytes(serving, "none", data, representative,
                                                                     saved_model=saved_model))
    try:
        with warnings.catch_warnings():
            # int8 calibration runs TF's own (deprecated) tf.lite.Interpreter: not ours to fix.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            if nodes is not None:
                content = quantize.convert_int8_float_attention(converter, rep, nodes)
            else:
                content = converter.convert()
    except Exception as err:  # noqa: BLE001 - converter errors are many types; one line for the user
        first = first_line(err)
        raise MbertError(f"TFLite conversion ({mode}) failed: {first[:300]}",
                         hint="pass --debug for the converter's full log") from None
    # One subgraph per signature repeats every weight's quantization table: store each once.
    # Only a size saving: if the re-pack fails, the converter's own (verified later) bytes stand.
    try:
        return share_quantization(content)
    except Exception:  # noqa: BLE001 - flatbuffers/numpy/memory errors alike
        return content


def _checks(serving: Any, spec: LengthSpec, data: ExportData) -> list[LengthCheck]:
    """One check per fixed signature; a resizable one is checked at the data's length and a
    quarter of it (the runtime resizes, so both must match TensorFlow)."""
    longest = len(data.heldout["input_word_ids"][0])
    checks = []
    for key, (fn, n) in serving.functions.items():
        lengths = [n] if n else sorted({longest, max(8, longest // 4)})
        for length in lengths:
            if length > longest:
                raise MbertError(f"the export data has {longest} tokens per row, the {key} signature needs {length}",
                                 hint="build the export data at the longest --seq-len")
            rows = truncate_rows(data.heldout, length)
            ref = verify.run_batched(serving.batched, rows) if serving.batched is not None \
                else verify.run_concrete(fn, rows)
            checks.append(LengthCheck(key, length, rows, ref, data.metric(ref), fixed=n is not None))
    return checks


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
    spec = options.length_spec()
    clip_attention_masks(model, options.mask_clip)
    serving = build_serving_functions(model, spec.signature_keys(), max_len=spec.max_len,
                                      app=options.app.kind if options.app else None)
    if options.app:
        data = app_metadata.app_rows(data)
        if options.app.kind == app_metadata.EMBEDDER:
            # The argmax of an embedding is no prediction: an embedder's gate is the cosine.
            options.thresholds = dataclasses.replace(options.thresholds, quantized_min_top1=0.0)
    checks = _checks(serving, spec, data)
    shown = "dynamic" if spec.dynamic else ",".join(map(str, spec.lengths))
    results = []
    float_model = None
    cache: dict = {}  # the library's calibration and tables, shared by the search and --explain
    with saved_once(serving) as saved_model:
        for mode in modes:
            say(f"converting {mode} (seq {shown})")
            content = convert_bytes(serving, mode, data, options.representative, options.int8_float_attention,
                                    float_model=float_model, saved_model=saved_model)
            if mode == "none":
                float_model = content  # int8's float-attention recipe needs it: converted once, not twice
            if options.app:
                content = app_metadata.attach(content, options.app)  # the gates below check the final file
            searching = mode == "int8" and options.search is not None and not options.force
            checked = verify_bytes(content, mode, model_name, replace(options, force=True) if searching else options,
                                   data, checks[-1].reference, checks[-1].float_metric, say, checks=checks)
            if searching or (options.explain and mode in quant_diagnosis.EXPLAINABLE_MODES):
                float_model = float_model or convert_bytes(serving, "none", data, options.representative,
                                                           saved_model=saved_model)
            if searching and checked.gate_failures:
                checked = _mixed_precision(float_model, serving, data, options, checks, model_name, checked, say,
                                           cache)
                if options.app:  # the search quantizes the bare float graph: the winner gets the metadata too,
                    # and the gates run again on the file that is written
                    final = verify_bytes(app_metadata.attach(checked.content, options.app), mode, model_name, options,
                                         data, checks[-1].reference, checks[-1].float_metric, say, checks=checks)
                    final.file, final.mixed_precision = checked.file, checked.mixed_precision
                    checked = final
            if options.explain and mode in quant_diagnosis.EXPLAINABLE_MODES:
                checked.diagnosis = _explain(float_model, mode, serving, data, options, say, cache)
            if options.app:
                checked.app_metadata = app_metadata.read(checked.content).manifest_entry()
            results.append(checked)
    return results


def _mixed_precision(float_model: bytes, serving: Any, data: ExportData, options: ExportOptions,
                     checks: list[LengthCheck], model_name: str, failed: ConvertedFile,
                     say: Callable[[str], None], cache: dict) -> ConvertedFile:
    """The search's passing file in place of the failing int8 one (mixed_precision.search)."""
    result = mixed_precision.search(float_model, serving, data, options, checks, model_name, failed, say, cache,
                                    verify=verify_bytes)
    chosen = result.chosen.checked
    chosen.file, chosen.mixed_precision = failed.file, result.manifest()
    return chosen


def _explain(float_model: bytes, mode: str, serving: Any, data: ExportData, options: ExportOptions,
             say: Callable[[str], None], cache: dict) -> list[dict]:
    """--explain: the per-layer error table for `mode`, printed; its rows go to quant_diagnosis.json."""
    key = f"{mode}_rows"
    if key not in cache:
        if mode == "int8" and "calibration" not in cache:
            cache["calibration"] = quant_diagnosis.calibrate(
                float_model, quant_diagnosis.calibration_rows(serving, data, options.representative))
        cache[key] = quant_diagnosis.diagnose(float_model, mode, serving, data, options.representative,
                                              options.int8_float_attention,
                                              calibration=cache.get("calibration") if mode == "int8" else None).rows
    rows = cache[key]
    say(quant_diagnosis.table(rows, title=f"{mode}: per-layer quantization error (worst first, litert-quantizer "
                                          f"validate, {len(rows)} tensors)"))
    return quant_diagnosis.to_json(rows)


def verify_bytes(content: bytes, mode: str, model_name: str, options: ExportOptions, data: ExportData,
                 reference: dict[str, np.ndarray], float_metric: float | None,
                 say: Callable[[str], None], checks: list[LengthCheck] | None = None) -> ConvertedFile:
    """All checks on one flatbuffer; raises MbertError naming the failed gate unless forced.

    `checks` lists the signatures and lengths to check (default: `serving_default` on
    `data.heldout` against `reference`); the file's top-level figures are the longest
    length's, each signature's are in `signatures`.
    """
    spec = options.length_spec()
    checks = checks or [LengthCheck(SIGNATURE_KEY, options.seq_len, data.heldout, reference, float_metric)]
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
    per_signature: list[dict] = []
    if flex:
        say(f"{mode}: contains {', '.join(flex)}; allowed by --allow-flex, parity not checked here")
    for check in ([] if flex else checks):
        runner, info = verify.load_signature(content, check.key)
        p, m, reasons = _check_one(runner, mode, options, data, check)
        where = f" at seq {check.seq_len}" if len(checks) > 1 else ""
        failures.extend(f"{r}{where}" for r in reasons)
        signature, par, metric = info.to_dict(), p.to_dict(), m
        per_signature.append({"key": check.key, "seq_len": check.seq_len if check.fixed else None,
                              "checked_at": check.seq_len, "inputs": signature.get("inputs"),
                              "outputs": signature.get("outputs"), "parity": par, "task_metric": metric})
        say(f"{mode}{where}: {len(content) / 1e6:.2f} MB, max|diff| {p.max_abs_diff:.3g}, cosine {p.cosine:.5f}, "
            f"top-1 {p.top1_agreement:.3f}" + (f", {m['name']} {m['tflite']:.2f} (TF {m['tensorflow']:.2f})"
                                               if m else ""))
    if failures and not options.force:
        raise MbertError(f"{mode} export failed verification: {'; '.join(failures)}",
                         hint="inspect the figures above; --force writes the file anyway")
    name = file_name(model_name, mode, spec if options.lengths else options.seq_len)
    return ConvertedFile(file=name, mode=mode, seq_len=spec.max_len if options.lengths else options.seq_len,
                         content=content, sha256=sha256_bytes(content), size_bytes=len(content),
                         signature=signature, ops=hist, non_builtin_ops=flex, parity=par, task_metric=metric,
                         gate_failures=failures, seq_lens=[] if spec.dynamic else list(spec.lengths),
                         dynamic=spec.dynamic, signatures=per_signature)


def _check_one(runner: Any, mode: str, options: ExportOptions, data: ExportData,
               check: LengthCheck) -> tuple[verify.Parity, dict | None, list[str]]:
    """Parity and the task-metric gate for one signature at one length."""
    reasons = []
    outputs = verify.run_tflite(runner, check.rows)
    p = verify.parity(check.reference, outputs)
    reason = options.thresholds.check(mode, p)
    if reason:
        reasons.append(f"parity: {reason}")
    q_metric = data.metric(outputs)
    metric = None
    if check.float_metric is not None and q_metric is not None:
        drop = check.float_metric - q_metric
        metric = {"name": data.metric_name, "tensorflow": check.float_metric, "tflite": q_metric, "drop": drop,
                  "examples": int(len(data.labels)), "max_drop": options.max_drop}
        if mode != "none" and drop > options.max_drop:
            reasons.append(f"{data.metric_name} drops {drop:.2f} points "
                           f"({check.float_metric:.2f} -> {q_metric:.2f}) > --max-drop {options.max_drop:g}")
    return p, metric, reasons


def write_files(out_dir: str | Path, files: list[ConvertedFile], header: dict,
                entry_extra: dict | None = None) -> Path:
    """Writes each file under a temporary name and renames it, then the manifest."""
    out = check_writable(out_dir, create=True)
    for f in files:
        atomic_write_bytes(out / f.file, f.content)
    return write_manifest(out, header, [{**f.manifest_entry(), **(entry_extra or {})} for f in files])
