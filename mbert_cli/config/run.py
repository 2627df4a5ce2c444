"""The full configuration of a run: preset + data + training + export, as one dataclass.

Written as `config.yaml` into every run directory, so a run can be rebuilt and resumed
from its folder alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mbert_cli.config.data import DataConfig
from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.config.export import ExportConfig
from mbert_cli.config.fields import check_settings, setting
from mbert_cli.config.training import DistillConfig, FinetuneConfig, TrainConfig
from mbert_cli.errors import MbertError


@dataclass
class RunConfig:
    """Everything needed to reproduce a run."""

    preset: str = "nano-student"
    role: str = setting("student", choices=("teacher", "student", "baseline"))
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    seed: int = setting(42, ge=0)

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        """Checks every field against its declared range, then the rules that span sections."""
        check_settings(self)
        self.encoder.validate()
        if not self.export.modes:
            raise MbertError("export.modes is empty: valid one or more of none, dynamic, int8, float16",
                             hint="set export.modes=none (or int8, dynamic, float16)")
        if self.data.seq_len > self.encoder.max_sequence_length:
            raise MbertError(
                f"data.seq_len={self.data.seq_len} exceeds the preset's maximum "
                f"{self.encoder.max_sequence_length} (encoder.max_sequence_length, the position table)",
                hint=f"use --set data.seq_len={self.encoder.max_sequence_length} or less",
            )
        longest = self.export.longest_seq_len()
        if longest is not None and longest > self.encoder.max_sequence_length:
            raise MbertError(
                f"export.seq_len={self.export.seq_len} exceeds the preset's maximum "
                f"{self.encoder.max_sequence_length} (encoder.max_sequence_length, the position table)",
                hint=f"use --seq-len {self.encoder.max_sequence_length} or less",
            )
