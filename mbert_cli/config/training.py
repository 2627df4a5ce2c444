"""Training configuration: optimizer schedule, distillation losses and fine-tuning.

The defaults are tuned for the nano presets on 2 CPU cores (the whole teacher -> student
-> fine-tune sequence in a few minutes on the shipped data). The paper presets need the
paper's numbers (LAMB lr ~1e-3 to 1.5e-3 at batch 2048-4096, 10k steps per layer, 500k
distillation steps): pass them with --config/--set.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OptimizerConfig:
    """LAMB (pre-training, distillation) or AdamW (fine-tuning) with warm-up + linear decay.

    LAMB scales each update to the layer's weight norm, so its learning rate is a relative
    step size; 0.03 is what makes the nano models learn in a few hundred steps.
    """

    learning_rate: float = 0.03
    warmup_steps: int = 50
    weight_decay: float = 0.01
    clip_norm: float = 1.0  # global gradient norm clip (0 = off)


@dataclass
class TrainConfig:
    """Teacher pre-training (MLM + NSP); logging and checkpoint cadence for every stage."""

    batch_size: int = 32
    steps: int = 600
    log_every: int = 20
    checkpoint_every: int = 100
    eval_steps: int = 10  # eval batches at each checkpoint (0 = the whole eval split)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # bfloat16 compute in every training stage where a GPU (8.0+) or TPU has it (see
    # training/precision.py); CPUs and older GPUs stay float32
    mixed_precision: bool = True


@dataclass
class DistillConfig:
    """Layer-wise knowledge transfer then pre-training distillation (the paper's recipe)."""

    strategy: str = "progressive"  # progressive | joint | auxiliary
    steps_per_layer: int = 100
    joint_steps: int = 0  # 0 = num_layers * steps_per_layer
    pretrain_distill_steps: int = 400
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
    """Task fine-tuning with AdamW (warm-up over warmup_fraction of the steps, then linear decay)."""

    task: str = "classification"  # classification | squad
    num_classes: int = 2  # set from the data by `mbert train finetune`
    batch_size: int = 32
    epochs: float = 2.0
    steps: int = 0  # 0 = derive from epochs
    learning_rate: float = 1e-3
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    distill_weight: float = 0.0  # task distillation weight with --distill-from (0 = 0.5)
    max_examples: int = 0  # 0 = all
    doc_stride: int = 64
    max_query_length: int = 32
