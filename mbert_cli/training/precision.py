"""Mixed precision: bfloat16 compute where the hardware has it (a GPU of compute capability
8.0+, a TPU, a CPU with AMX-BF16 tiles).

bfloat16 keeps float32's exponent range, so the custom loop needs no loss scaling; variables
stay float32 and every loss is computed in float32 (`training.losses` casts). Older GPUs and
CPUs without AMX train in float32: AVX-512 BF16 alone (e.g. AMD EPYC Zen 4) gains nothing in the
training loop, while AMX (Intel Xeon Sapphire Rapids and later, through oneDNN) runs the
matmuls much faster than float32 (`studies/bf16_matmul.py` measures both side by side).
AMX is reached only through oneDNN, so TF_ENABLE_ONEDNN_OPTS=0 keeps such a CPU in float32.

The policy is applied only while the trained model is built (`precision_policy`), never
left set process-wide: a frozen teacher (its distillation targets stay full precision), an
exported model or the next stage of a demo are built in float32.

Why a patch for LayerNorm MobileBERT (the IB-BERT teachers, the "w/o OPT" students):
tf-models-official pins MobileBERT's `LayerNormalization` to float32, so under a bfloat16
policy its residual adds mix float32 and bfloat16 and fail (`AddV2`), i.e. an IB-BERT
teacher could not train on any Ampere+ GPU. Keras' own `LayerNormalization` already
computes in float32 when given bfloat16 inputs and casts back, so building it under the
policy is the numerically safe fix; `precision_policy` swaps it in only while a model is
built (same variable names and float32 variables, so checkpoints are unchanged).
tests/training/test_precision.py checks the library still fails without the patch and that
bfloat16 and float32 losses agree with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import tensorflow as tf
import tf_keras
from official.nlp.modeling.layers import mobile_bert_layers

MIXED = "mixed_bfloat16"


def hardware_has_fast_bfloat16() -> bool:
    """True on a TPU, a GPU of compute capability 8.0+ (Ampere, Hopper, ...) or an AMX CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return tuple(capability) >= (8, 0)
    return bool(tf.config.list_logical_devices("TPU")) or (cpu_has_amx_bfloat16() and onednn_enabled())


def onednn_enabled(environ=None) -> bool:
    """False when TF_ENABLE_ONEDNN_OPTS turns TensorFlow's oneDNN kernels off; on by default on x86 Linux.

    Read as TensorFlow's ReadBoolFromEnvVar reads it (core/util/env_var.cc): lower-cased, not
    stripped, "0"/"false" off, anything it cannot parse (" False ", "no") the default, on. TF 2.20
    here logs "not set to either '0', 'false', '1', or 'true'. Using the default setting: 1" for " False ".

    Only oneDNN runs bfloat16 on AMX tiles; without it TensorFlow's own CPU kernels emulate
    bfloat16, many times slower than float32
    (`TF_ENABLE_ONEDNN_OPTS=0 python -m studies.bf16_matmul --presets nano-teacher` shows it).
    """
    value = (os.environ if environ is None else environ).get("TF_ENABLE_ONEDNN_OPTS", "1")
    return value.lower() not in {"0", "false"}


def cpu_has_amx_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU's flags (Linux /proc/cpuinfo) include `amx_bf16`: oneDNN then runs
    TensorFlow's bfloat16 matmuls on AMX tiles. Elsewhere (no such file) False."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split(":", 1)[-1].split()
    except OSError:
        pass
    return False


def choose_policy(requested: bool, fast_bfloat16: bool | None = None) -> tuple[str | None, str | None]:
    """(policy or None for float32, a line for the user or None when float32 is the obvious choice).

    `fast_bfloat16` is the hardware check's answer (None = ask the hardware).
    """
    if not requested:
        return None, None
    if fast_bfloat16 is None:
        fast_bfloat16 = hardware_has_fast_bfloat16()
    if not fast_bfloat16:
        return None, None  # CPU or an older GPU: bfloat16 would not be faster
    return MIXED, f"Precision: {MIXED} (bfloat16 compute, float32 variables and losses)."


def run_policy(requested: bool, say=print) -> str | None:
    """`choose_policy` for a training run: tells the user when bfloat16 is on, returns the policy."""
    policy, line = choose_policy(requested)
    if line:
        say(line)
    return policy


@contextmanager
def precision_policy(policy: str | None) -> Iterator[None]:
    """Builds the layers created inside under `policy` (None = float32), then restores the old one.

    Keras layers keep the policy they were created with, so only model construction needs it.
    """
    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(policy or "float32")
    try:
        if policy:
            with _mobilebert_layer_norm_follows_policy():
                yield
        else:
            yield
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)


@contextmanager
def _mobilebert_layer_norm_follows_policy() -> Iterator[None]:
    """While inside, tf-models-official's MobileBERT layers get LayerNorms built under the
    global policy instead of pinned to float32 (see the module docstring)."""
    original = mobile_bert_layers._get_norm_layer  # noqa: SLF001 - the one hook the library has

    def norm_layer(normalization_type="no_norm", name=None):
        if normalization_type == "layer_norm":  # the library's arguments, minus dtype=float32
            return tf_keras.layers.LayerNormalization(name=name, axis=-1, epsilon=1e-12)
        return original(normalization_type, name)

    mobile_bert_layers._get_norm_layer = norm_layer  # noqa: SLF001
    try:
        yield
    finally:
        mobile_bert_layers._get_norm_layer = original  # noqa: SLF001
