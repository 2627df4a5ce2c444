"""Export configuration: quantization modes, verification gates, OPT substitution."""

from __future__ import annotations

from dataclasses import dataclass, field

# The TFLite variants an export can write (converters/quantize.py has one recipe per mode).
QUANTIZATION_MODES = ("none", "dynamic", "int8", "float16")


@dataclass
class ExportConfig:
    """How a trained run becomes verified TFLite files."""

    modes: list[str] = field(default_factory=lambda: ["none"])  # none | dynamic | int8 | float16
    seq_len: int = 128
    representative_examples: int = 100
    parity_examples: int = 32
    metric_examples: int = 1000  # validation rows for the task-metric gate (32 rows = 3-point steps)
    max_drop: float = 1.0  # task-metric points an int8/float16 file may lose
    mask_clip: float = -120.0  # additive attention mask value kept inside the int8 range
    recovery_steps: int = 100  # OPT substitution: recovery distillation steps
    allow_flex: bool = False
    # int8 with attention matmuls/softmax/mask add kept float: XNNPACK then runs the graph in
    # 2 partitions instead of 50; measured 0.93x of dynamic range vs 2.03x for all-int8
    # (mobilebert seq 128, 1 thread; benchmarks/suite/export_latency.py).
    int8_float_attention: bool = True
