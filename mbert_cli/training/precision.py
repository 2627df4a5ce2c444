"""Mixed precision: bfloat16 compute where the hardware has it and the model supports it.

bfloat16 (TPUs, GPUs of compute capability 8.0+) keeps float32's exponent range, so the
custom loop needs no loss scaling; variables stay float32 and every loss is computed in
float32 (`training.losses` casts). Older GPUs and CPUs train in float32.

The policy is applied only while the trained model is built (`precision_policy`), never
left set process-wide: a frozen teacher, an exported model or the next stage of a demo
are built in float32.

Why not every encoder: tf-models-official's MobileBERT `LayerNormalization` is pinned to
float32 and its residual add then mixes float32 and bfloat16 and fails (`AddV2`: float32
vs bfloat16, checked in tests/training/test_precision.py), so MobileBERT encoders with
`normalization_type=layer_norm` (the IB-BERT teachers, the "w/o OPT" students) train in
float32. NoNorm MobileBERT students and the BERT baseline train in bfloat16.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

MIXED = "mixed_bfloat16"


def hardware_has_fast_bfloat16() -> bool:
    """True on a TPU or a GPU of compute capability 8.0+ (Ampere, Hopper, ...)."""
    import tensorflow as tf  # noqa: PLC0415

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return tuple(capability) >= (8, 0)
    return bool(tf.config.list_logical_devices("TPU"))


def encoder_supports_bfloat16(encoder) -> bool:
    """False for MobileBERT encoders with LayerNorm (see the module docstring)."""
    return not (encoder.kind == "mobilebert" and encoder.normalization_type == "layer_norm")


def choose_policy(requested: bool, encoder, fast_bfloat16: bool | None = None) -> tuple[str | None, str | None]:
    """(policy or None for float32, a line for the user or None when float32 is the obvious choice).

    `fast_bfloat16` is the hardware check's answer (None = ask the hardware).
    """
    if not requested:
        return None, None
    if fast_bfloat16 is None:
        fast_bfloat16 = hardware_has_fast_bfloat16()
    if not fast_bfloat16:
        return None, None  # CPU or an older GPU: bfloat16 would not be faster
    if not encoder_supports_bfloat16(encoder):
        return None, ("Precision: float32 (tf-models-official's MobileBERT LayerNorm runs in float32 only; "
                      "NoNorm students train in bfloat16).")
    return MIXED, f"Precision: {MIXED} (bfloat16 compute, float32 variables and losses)."


@contextmanager
def precision_policy(policy: str | None) -> Iterator[None]:
    """Builds the layers created inside under `policy` (None = float32), then restores the old one.

    Keras layers keep the policy they were created with, so only model construction needs it.
    """
    import tf_keras  # noqa: PLC0415

    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(policy or "float32")
    try:
        yield
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)
