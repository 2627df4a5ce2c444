"""Export configuration: quantization modes, verification gates, OPT substitution."""

from __future__ import annotations

from dataclasses import dataclass

from mbert_cli.config.fields import setting

# The TFLite variants an export can write (converters/quantize.py has one recipe per mode).
QUANTIZATION_MODES = ("none", "dynamic", "int8", "float16")


@dataclass
class ExportConfig:
    """How a trained run becomes verified TFLite files."""

    modes: list[str] = setting(default_factory=lambda: ["none"], choices=("none", "dynamic", "int8", "float16"))
    # One length (one `serving_default` signature), a list (one signature per length,
    # shared weights) or `dynamic` (resizable), as `mbert export --seq-len` takes; each
    # length at most the position table (RunConfig.validate).
    seq_len: int | list[int] | str = setting(128, ge=1, words=("dynamic",), distinct=True)
    representative_examples: int = setting(100, ge=1)
    parity_examples: int = setting(32, ge=1)
    # validation rows for the task-metric gate (32 rows = 3-point steps)
    metric_examples: int = setting(1000, ge=1)
    max_drop: float = setting(1.0, ge=0.0)  # task-metric points an int8/float16 file may lose
    mask_clip: float = setting(-120.0, lt=0.0)  # additive attention mask value kept inside the int8 range
    recovery_steps: int = setting(100, ge=0)  # OPT substitution: recovery distillation steps
    allow_flex: bool = False
    # int8 with attention matmuls/softmax/mask add kept float: XNNPACK then runs the graph in
    # a few partitions instead of one per op (the latency: studies/export_latency.py).
    int8_float_attention: bool = True

    def longest_seq_len(self) -> int | None:
        """The longest fixed length `seq_len` names (None for `dynamic`)."""
        if isinstance(self.seq_len, list):
            return max(self.seq_len)
        return self.seq_len if isinstance(self.seq_len, int) else None
