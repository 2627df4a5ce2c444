"""Training configuration: optimizer schedule, distillation losses and fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OptimizerConfig:
    """LAMB (pre-training, distillation) or AdamW (fine-tuning) with warm-up + decay."""

    learning_rate: float = 1e-3
    warmup_steps: int = 10
    weight_decay: float = 0.01
    clip_norm: float = 1.0


@dataclass
class TrainConfig:
    """Teacher pre-training (MLM + NSP)."""

    batch_size: int = 32
    steps: int = 300
    log_every: int = 20
    checkpoint_every: int = 100
    eval_steps: int = 5
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    mixed_precision: bool = False


@dataclass
class DistillConfig:
    """Layer-wise knowledge transfer then pre-training distillation (the paper's recipe)."""

    strategy: str = "progressive"  # progressive | joint | auxiliary
    steps_per_layer: int = 40
    joint_steps: int = 0  # 0 = num_layers * steps_per_layer
    pretrain_distill_steps: int = 200
    batch_size: int = 32
    lower_layer_lr_scale: float = 0.0  # 0 = frozen; the GR reference uses 0.3 ("soft freeze")
    attention_weight: float = 1.0
    hidden_mse_weight: float = 100.0
    beta_weight: float = 5000.0
    gamma_weight: float = 5.0
    mlm_weight: float = 0.5  # distillation: a*MLM + (1-a)*KD + NSP
    kd_temperature: float = 1.0
    layer_map: list[int] = field(default_factory=list)  # student layer i <- teacher layer layer_map[i]; [] = default
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass
class FinetuneConfig:
    """Task fine-tuning with AdamW."""

    task: str = "classification"  # classification | squad
    num_classes: int = 2
    batch_size: int = 32
    epochs: float = 2.0
    steps: int = 0  # 0 = derive from epochs
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    distill_weight: float = 0.0  # task distillation from --distill-from
    max_examples: int = 0  # 0 = all
    doc_stride: int = 64
    max_query_length: int = 32
