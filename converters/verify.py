"""Verification of a converted flatbuffer: ops, loadability, signature, parity.

Every export goes through these checks; a file that fails one is not handed over.
"""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from mbert_cli.errors import MbertError, first_line
from mbert_cli.runtime import load_runtime

# LayerNorm statistics and GELU: what an OPT (NoNorm/ReLU) graph must not contain.
NON_OPT_OPS = ("MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU")


def op_histogram(model_bytes: bytes) -> dict[str, int]:
    """Counts operators in all subgraphs by name; custom ops (Flex included) by custom code."""
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(model_bytes, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        # Builtin codes above 127 live in BuiltinCode; older ones in DeprecatedBuiltinCode.
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == schema.BuiltinOperator.CUSTOM:
            codes.append(oc.CustomCode().decode("utf-8"))
        else:
            codes.append(names.get(code, f"BUILTIN_{code}"))
    hist: collections.Counter = collections.Counter()
    for s in range(model.SubgraphsLength()):
        sub = model.Subgraphs(s)
        for o in range(sub.OperatorsLength()):
            hist[codes[sub.Operators(o).OpcodeIndex()]] += 1
    return dict(sorted(hist.items()))


def non_builtin_ops(hist: dict[str, int]) -> list[str]:
    """Flex (Select TF) and other custom ops: what a stock phone runtime cannot run."""
    builtin = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")}
    return sorted(name for name in hist if name not in builtin or name == "CUSTOM")


def check_builtin_only(hist: dict[str, int], allow_flex: bool) -> list[str]:
    """Raises naming the non-builtin ops unless `allow_flex`; returns them either way."""
    bad = non_builtin_ops(hist)
    if bad and not allow_flex:
        raise MbertError(f"the converted model needs ops a stock LiteRT runtime lacks: {', '.join(bad)}",
                         hint="rewrite the layer that produces them, or pass --allow-flex "
                              "(the phone app must then link the Select TF ops library)")
    return bad


@dataclass(frozen=True)
class SignatureInfo:
    """A file's signature: input and output tensors by name."""

    key: str
    inputs: dict[str, dict]  # name -> {"dtype", "shape"}
    outputs: dict[str, dict]

    def to_dict(self) -> dict:
        return asdict(self)


def load_signature(model_bytes: bytes, key: str) -> tuple[Any, SignatureInfo]:
    """Loads the file in LiteRT and returns the signature runner for `key` and its description."""
    try:
        interp = load_runtime().interpreter(model_content=model_bytes)
        sigs = interp.get_signature_list()
        if key not in sigs:
            raise MbertError(f"the converted model has no signature {key!r} (found: {', '.join(sigs) or 'none'})",
                             hint="export through converters.convert(), which names the signature")
        runner = interp.get_signature_runner(key)
    except (RuntimeError, ValueError) as err:
        raise MbertError(f"LiteRT cannot load the converted model: {first_line(err)}",
                         hint="check the op histogram for Flex/custom ops; pass --debug for details") from None

    def describe(details: dict) -> dict:
        # shape_signature keeps -1 for a resizable dimension (a dynamic export); shape shows 1 there.
        return {name: {"dtype": np.dtype(d["dtype"]).name,
                       "shape": [int(x) for x in d.get("shape_signature", d["shape"])]}
                for name, d in sorted(details.items())}

    info = SignatureInfo(key, describe(runner.get_input_details()), describe(runner.get_output_details()))
    return runner, info


def run_tflite(runner: Any, examples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs a signature runner row by row (files have a fixed batch of 1); stacks outputs."""
    n = len(next(iter(examples.values())))
    outs: dict[str, list] = collections.defaultdict(list)
    for i in range(n):
        res = runner(**{name: np.ascontiguousarray(arr[i:i + 1]) for name, arr in examples.items()})
        for name, value in res.items():
            outs[name].append(np.asarray(value))
    return {name: np.concatenate(v, axis=0) for name, v in outs.items()}


def run_concrete(concrete: Any, examples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs one TF concrete function (a signature's) on the rows, batch 1."""
    n = len(next(iter(examples.values())))
    outs: dict[str, list] = collections.defaultdict(list)
    for i in range(n):
        res = concrete(**{name: tf.constant(arr[i:i + 1]) for name, arr in examples.items()})
        for name, value in res.items():
            outs[name].append(value.numpy())
    return {name: np.concatenate(v, axis=0) for name, v in outs.items()}


def run_batched(function: Any, examples: dict[str, np.ndarray], batch: int = 64) -> dict[str, np.ndarray]:
    """Runs a [None, None]-input TF function (`ServingFunction.batched`) on the rows, `batch`
    at a time: the same outputs as `run_concrete` (a test holds them within float rounding)."""
    n = len(next(iter(examples.values())))
    outs: dict[str, list] = collections.defaultdict(list)
    for start in range(0, n, batch):
        res = function(**{name: tf.constant(arr[start:start + batch]) for name, arr in examples.items()})
        for name, value in res.items():
            outs[name].append(value.numpy())
    return {name: np.concatenate(v, axis=0) for name, v in outs.items()}


@dataclass
class Parity:
    """TFLite vs TensorFlow on the same held-out rows, per output and overall."""

    examples: int
    max_abs_diff: float
    cosine: float  # cosine of all rows flattened together, worst output (the gated figure)
    min_cosine: float  # worst row-wise cosine: fragile for 2-class logits near zero, reported only
    top1_agreement: float  # fraction of rows whose argmax (last axis) agrees, worst output
    per_output: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def parity(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> Parity:
    """Compares two output dicts (same keys) row by row."""
    per: dict[str, dict] = {}
    for name, ref in reference.items():
        got = np.asarray(candidate[name], dtype=np.float64)
        ref = np.asarray(ref, dtype=np.float64)
        a = ref.reshape(len(ref), -1)
        b = got.reshape(len(got), -1)
        denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cos = np.where(denom > 0, (a * b).sum(axis=1) / np.maximum(denom, 1e-30), 1.0)
        flat = float(np.dot(a.ravel(), b.ravel()) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
        per[name] = {
            "max_abs_diff": float(np.max(np.abs(ref - got))) if ref.size else 0.0,
            "cosine": flat if np.linalg.norm(a) > 0 else 1.0,
            "min_cosine": float(np.min(cos)),
            "mean_cosine": float(np.mean(cos)),
            "top1_agreement": float(np.mean(np.argmax(ref, axis=-1) == np.argmax(got, axis=-1))),
        }
    n = len(next(iter(reference.values())))
    return Parity(n, max(p["max_abs_diff"] for p in per.values()),
                  min(p["cosine"] for p in per.values()),
                  min(p["min_cosine"] for p in per.values()),
                  min(p["top1_agreement"] for p in per.values()), per)


@dataclass(frozen=True)
class ParityThresholds:
    """What each mode must reach against TensorFlow (float: absolute; quantized: cosine, top-1)."""

    float_max_abs_diff: float = 1e-3
    dynamic_min_cosine: float = 0.98
    float16_min_cosine: float = 0.999
    int8_min_cosine: float = 0.95
    quantized_min_top1: float = 0.9

    def check(self, mode: str, p: Parity) -> str | None:
        """None if `p` passes for `mode`, else the reason."""
        if mode == "none":
            if p.max_abs_diff > self.float_max_abs_diff:
                return f"max abs diff {p.max_abs_diff:.3g} > {self.float_max_abs_diff:g}"
            return None
        limit = {"dynamic": self.dynamic_min_cosine, "float16": self.float16_min_cosine,
                 "int8": self.int8_min_cosine}[mode]
        if p.cosine < limit:
            return f"cosine {p.cosine:.4f} < {limit:g}"
        if p.top1_agreement < self.quantized_min_top1:
            return f"top-1 agreement {p.top1_agreement:.3f} < {self.quantized_min_top1:g}"
        return None
