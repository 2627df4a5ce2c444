"""The full configuration of a run: preset + data + training + export, as one dataclass.

Written as `config.yaml` into every run directory, so a run can be rebuilt and resumed
from its folder alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mbert_cli.config.data import DataConfig
from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.config.export import ExportConfig
from mbert_cli.config.training import DistillConfig, FinetuneConfig, TrainConfig


@dataclass
class RunConfig:
    """Everything needed to reproduce a run."""

    preset: str = "nano-student"
    role: str = "student"  # teacher | student | baseline
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    seed: int = 42

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        """Checks cross-field rules that no single section can check alone."""
        from mbert_cli.errors import MbertError  # noqa: PLC0415

        self.encoder.validate()
        if self.data.seq_len > self.encoder.max_sequence_length:
            raise MbertError(
                f"sequence length {self.data.seq_len} exceeds the preset's maximum "
                f"{self.encoder.max_sequence_length}",
                hint=f"use --set data.seq_len={self.encoder.max_sequence_length} or less",
            )
        if self.export.seq_len > self.encoder.max_sequence_length:
            raise MbertError(
                f"export sequence length {self.export.seq_len} exceeds the preset's maximum "
                f"{self.encoder.max_sequence_length}",
                hint=f"use --seq-len {self.encoder.max_sequence_length} or less",
            )
        if not 0.0 < self.data.mask_prob < 1.0:
            raise MbertError(f"data.mask_prob must be in (0, 1), got {self.data.mask_prob}",
                             hint="the paper uses 0.15")
