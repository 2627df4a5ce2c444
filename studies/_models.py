"""Random-weight MobileBERT / BERT-base classifiers exported through `converters.convert()`, cached.

Latency does not depend on the weights, so the studies measure random-weight files converted
like trained ones; each is cached under a name keyed by preset, mode and sequence length.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path(os.environ.get("MBERT_BENCH_CACHE", Path.home() / ".cache" / "mbert-bench"))


@dataclass(frozen=True)
class Variant:
    """One exported file: `mode` is a converter mode (none, dynamic, int8, float16).

    `int8_float_attention` mirrors ExportOptions (True, the default export, keeps attention
    matmuls/softmax/mask add float; False is `--int8-full`).
    """

    preset: str
    mode: str
    int8_float_attention: bool = True

    @property
    def label(self) -> str:
        """float32 / dynamic / int8 / int8-full / float16: what tables print."""
        if self.mode == "none":
            return "float32"
        if self.mode == "int8" and not self.int8_float_attention:
            return "int8-full"
        return self.mode

    def file_name(self, seq_len: int) -> str:
        # Double underscores: preset names contain '-', and older caches used '_' with other meanings.
        return f"{self.preset}__{self.label}__seq{seq_len}.tflite"


# What `--make-models` measures: the paper's comparison at seq 128, baseline first.
SUITE_VARIANTS = (Variant("bert-base", "none"), Variant("mobilebert", "none"),
                  Variant("mobilebert", "dynamic"), Variant("mobilebert", "int8"))
SUITE_SEQ_LEN = 128
# `--tiny`: the same roles with the nano presets (the teacher stands in for BERT-base), seq 64.
TINY_VARIANTS = (Variant("nano-teacher", "none"), Variant("nano-student", "none"),
                 Variant("nano-student", "dynamic"), Variant("nano-student", "int8"))
TINY_SEQ_LEN = 64
# The single model a script needs when it needs one (crosscheck, adb overhead).
SUITE_DYNAMIC = Variant("mobilebert", "dynamic")
TINY_DYNAMIC = Variant("nano-student", "dynamic")


@dataclass(frozen=True)
class BuiltFile:
    variant: Variant
    seq_len: int
    path: Path


def build_variants(variants: Iterable[Variant], out_dir: str | Path | None = None, seq_len: int = SUITE_SEQ_LEN,
                   representative: int = 8, seed: int = 0, header: dict | None = None,
                   say=print) -> list[BuiltFile]:
    """Exports each variant into `out_dir` (default ~/.cache/mbert-bench) unless already there.

    One Keras model per preset (seeded) serves all of that preset's modes. TensorFlow and
    the converters are imported only when a file has to be built.
    """
    out = Path(out_dir) if out_dir is not None else DEFAULT_CACHE
    out.mkdir(parents=True, exist_ok=True)
    variants = list(variants)
    built = [BuiltFile(v, seq_len, out / v.file_name(seq_len)) for v in variants]
    missing = [b for b in built if not b.path.is_file()]
    if not missing:
        return built
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from converters import ExportOptions, convert
    from converters import data as data_mod
    from converters.converter import write_files
    from converters.export_model import build_export_model
    from mbert_cli.config import resolve_config

    models: dict[str, object] = {}
    for b in missing:
        v = b.variant
        cfg = resolve_config(v.preset)
        if v.preset not in models:
            tf.keras.utils.set_random_seed(seed)
            models[v.preset] = build_export_model(cfg, "finetune-classification")[1]
        say(f"converting {v.preset} {v.label} seq {seq_len} -> {b.path} (random weights; cached for next time)")
        data = data_mod.synthetic(seq_len, cfg.encoder.vocab_size, representative, 2, seed=seed)
        opts = ExportOptions(modes=(v.mode,), seq_len=seq_len, representative=representative, force=True,
                             int8_float_attention=v.int8_float_attention, require_opt_graph=cfg.encoder.is_opt)
        (f,) = convert(models[v.preset], model_name=v.preset, options=opts, data=data,
                       progress=lambda m, p=v.preset: say(f"  [{p}] {m}"))
        f.file = b.path.name
        write_files(out, [f], header or {"benchmark": "mbert-bench"},
                    entry_extra={"preset": v.preset, "variant": v.label, "random_weights": True})
    return built
