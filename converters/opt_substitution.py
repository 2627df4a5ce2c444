"""OPT pass: a LayerNorm/GELU MobileBERT becomes the paper's NoNorm/ReLU architecture.

Steps: build the same architecture with `normalization_type='no_norm'` and
`activation='relu'`; copy every weight by name (NoNorm's gamma/beta take LayerNorm's
gamma/beta: the affine part survives, the statistics go); then a short recovery
distillation from the original model (layer-output MSE over real tokens + output KD), the
`training.opt_recovery` stage on the one runner: checkpoints in runs/NAME/opt-recovery-<stage>/,
Ctrl-C/SIGTERM stop and resume as every stage does, and an export run again reuses it.
The task metric (or, without labels, output fidelity) is reported before substitution,
right after the copy, and after recovery. An already-OPT model is a checked no-op.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tf_keras

from converters.data import synthetic_rows
from converters.export_model import build_export_model, find_encoder
from mbert_cli.errors import MbertError
from mbert_cli.training.opt_recovery import RecoveryModels, RecoverySettings, recover

# Keras appends `_N` to auto-generated layer names when a class is built several times in
# one process (`mobile_bert_embedding_3`). Only top-level names are uniquified (inner ones,
# like `ffn_layer_2`, are scoped under their parent); at the top, `transformer_layer_{i}` is
# the one explicit name that ends in a number (the layer index), so it is kept.
_UNIQUIFIER = re.compile(r"^(?!transformer_layer_\d+$)(.+?)_\d+$")


def canonical_name(name: str) -> str:
    """A weight name without `:0` and without Keras' `_N` suffixes on layer names."""
    parts = name.split(":")[0].split("/")
    return "/".join([_UNIQUIFIER.sub(r"\1", parts[0]), *parts[1:]])


@dataclass
class WeightMap:
    """Which source weight feeds which target weight, and what did not map."""

    pairs: list[tuple[Any, Any]] = field(default_factory=list)  # (source var, target var)
    unmapped_target: list[str] = field(default_factory=list)  # target weights with no source
    unused_source: list[str] = field(default_factory=list)  # source weights nothing took
    shape_mismatch: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.unmapped_target or self.unused_source or self.shape_mismatch)


def map_weights(source: Any, target: Any) -> WeightMap:
    """Pairs the weights of two models by canonical name; NoNorm/LayerNorm share gamma/beta names."""
    src = {}
    for w in source.weights:
        key = canonical_name(w.name)
        if key in src:
            raise MbertError(f"two source weights share the name {key!r}", hint="layer names must be unique")
        src[key] = w
    result = WeightMap()
    used = set()
    for w in target.weights:
        key = canonical_name(w.name)
        s = src.get(key)
        if s is None:
            result.unmapped_target.append(key)
        elif tuple(s.shape) != tuple(w.shape):
            result.shape_mismatch.append(f"{key} {tuple(s.shape)} -> {tuple(w.shape)}")
            used.add(key)
        else:
            result.pairs.append((s, w))
            used.add(key)
    result.unused_source = sorted(set(src) - used)
    return result


def has_layer_norm_or_gelu(model: Any) -> bool:
    """True if any LayerNormalization layer or GELU activation is left in `model`."""
    for m in model.submodules:
        if isinstance(m, tf_keras.layers.LayerNormalization):
            return True
        act = getattr(m, "intermediate_act_fn", None) or getattr(m, "activation", None)
        if getattr(act, "__name__", "") == "gelu":
            return True
    return False


@dataclass
class OptResult:
    model: Any
    report: dict


def substitute(restored: Any, data: Any, steps: int = 100, batch_size: int = 16, learning_rate: float = 1e-3,
               progress: Callable[[str], None] | None = None, seed: int = 0) -> OptResult:
    """Runs the OPT pass on a restored model (see module docstring); returns the new model and a report."""
    say = progress or (lambda _m: None)
    cfg = restored.config
    if cfg.encoder.kind != "mobilebert":
        raise MbertError(f"--opt needs a MobileBERT model; this run's encoder is {cfg.encoder.kind!r}, "
                         "whose weights do not map onto NoNorm/ReLU MobileBERT",
                         hint="export without --opt")
    if cfg.encoder.is_opt:
        if has_layer_norm_or_gelu(restored.model):
            raise MbertError("config says NoNorm/ReLU but the model still has LayerNorm or GELU",
                             hint="the run's config.yaml does not describe its model")
        say("OPT: model is already NoNorm/ReLU; nothing to substitute")
        return OptResult(restored.model, {"noop": True})

    opt_cfg = copy.deepcopy(cfg.encoder)
    opt_cfg.normalization_type, opt_cfg.activation = "no_norm", "relu"
    _, opt_model = build_export_model(cfg, restored.stage, encoder_cfg=opt_cfg)
    wmap = map_weights(restored.model, opt_model)
    if not wmap.complete:
        problems = wmap.unmapped_target[:3] + wmap.unused_source[:3] + wmap.shape_mismatch[:3]
        raise MbertError(f"--opt: weights do not map onto the NoNorm/ReLU model "
                         f"({len(wmap.unmapped_target)} unmapped, {len(wmap.unused_source)} unused, "
                         f"{len(wmap.shape_mismatch)} shape mismatches; e.g. {', '.join(problems)})",
                         hint="--opt works on MobileBERT models whose only difference is LayerNorm/GELU")
    for s, t in wmap.pairs:
        t.assign(s)

    rows = _recovery_rows(data, cfg, seed)
    before = _evaluate(restored.model, restored.model, data)
    after_copy = _evaluate(restored.model, opt_model, data)
    say(f"OPT: copied {len(wmap.pairs)} weights; fidelity before {before['fidelity']:.4f}, "
        f"after copy {after_copy['fidelity']:.4f}")
    losses = _recover(restored, opt_model, rows, RecoverySettings(steps, batch_size, learning_rate), say) \
        if steps else []
    after = _evaluate(restored.model, opt_model, data)
    say(f"OPT: {steps} recovery steps; fidelity {after['fidelity']:.4f}"
        + (f", {data.metric_name} {after_copy['metric']:.2f} -> {after['metric']:.2f}" if after["metric"] is not None
           else ""))
    report = {
        "noop": False, "copied": len(wmap.pairs), "unmapped": wmap.unmapped_target, "steps": steps,
        "batch_size": batch_size, "learning_rate": learning_rate, "recovery_rows": len(rows["input_word_ids"]),
        "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
        "metric": {"name": data.metric_name, "before": before["metric"], "after_copy": after_copy["metric"],
                   "after_recovery": after["metric"]},
        "fidelity": {"name": "mean cosine of outputs vs the original model", "before": before["fidelity"],
                     "after_copy": after_copy["fidelity"], "after_recovery": after["fidelity"]},
    }
    return OptResult(opt_model, report)


def _recovery_rows(data: Any, cfg: Any, seed: int) -> dict:
    """Unlabelled rows for recovery: the calibration rows, topped up with synthetic ones."""
    rows = {k: np.asarray(v) for k, v in data.representative.items()}
    n, seq = rows["input_word_ids"].shape
    if n < 64:
        extra = synthetic_rows(64 - n, seq, cfg.encoder.vocab_size, seed=seed + 99)
        rows = {k: np.concatenate([rows[k], extra[k]]) for k in rows}
    return rows


def _evaluate(reference: Any, model: Any, data: Any) -> dict:
    ref = {k: v.numpy() for k, v in reference(data.heldout, training=False).items()}
    out = {k: v.numpy() for k, v in model(data.heldout, training=False).items()}
    cos = []
    for k in ref:
        a, b = ref[k].reshape(len(ref[k]), -1), out[k].reshape(len(out[k]), -1)
        cos.append(np.sum(a * b, 1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30))
    return {"metric": data.metric(out), "fidelity": float(np.mean(cos))}


def _recover(restored: Any, opt_model: Any, rows: dict, settings: RecoverySettings,
             say: Callable[[str], None]) -> list[float]:
    """Runs the recovery stage in the run that holds the restored checkpoint; the loss per step."""
    run = Path(restored.checkpoint).parents[2]  # runs/NAME/<stage>/checkpoints/ckpt-N
    models = RecoveryModels(restored.model, find_encoder(restored.model), opt_model, find_encoder(opt_model))
    return recover(run, restored.config, restored.stage, restored.checkpoint, models, rows, settings, say=say)
