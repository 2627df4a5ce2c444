"""Training configuration: optimizer schedule, distillation losses and fine-tuning.

The defaults are tuned for the nano presets on 2 CPU cores (the whole teacher -> student
-> fine-tune sequence in a few minutes on the shipped data). The paper presets need the
paper's numbers (LAMB lr ~1e-3 to 1.5e-3 at batch 2048-4096, 10k steps per layer, 500k
distillation steps): pass them with --config/--set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mbert_cli.config.fields import setting


@dataclass
class OptimizerConfig:
    """LAMB (pre-training, distillation) or AdamW (fine-tuning) with warm-up + linear decay.

    LAMB scales each update to the layer's weight norm, so its learning rate is a relative
    step size; 0.03 is what makes the nano models learn in a few hundred steps.
    """

    learning_rate: float = setting(0.03, gt=0.0)
    warmup_steps: int = setting(50, ge=0)
    weight_decay: float = setting(0.01, ge=0.0)
    clip_norm: float = setting(1.0, ge=0.0, note="0 = off")  # global gradient norm clip


@dataclass
class TrainConfig:
    """Teacher pre-training (MLM + NSP); logging and checkpoint cadence for every stage."""

    batch_size: int = setting(32, ge=1)
    steps: int = setting(600, ge=1)
    log_every: int = setting(20, ge=1)
    checkpoint_every: int = setting(100, ge=1)
    eval_steps: int = setting(10, ge=0, note="0 = the whole eval split")  # eval batches at each checkpoint
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    # bfloat16 compute in every training stage where a GPU (8.0+) or TPU has it (see
    # training/precision.py); CPUs and older GPUs stay float32
    mixed_precision: bool = True


@dataclass
class DistillConfig:
    """Layer-wise knowledge transfer then pre-training distillation (the paper's recipe)."""

    strategy: str = setting("progressive", choices=("progressive", "joint", "auxiliary"))
    steps_per_layer: int = setting(100, ge=0)
    joint_steps: int = setting(0, ge=0, note="0 = num_layers * steps_per_layer")
    pretrain_distill_steps: int = setting(400, ge=0)
    batch_size: int = setting(32, ge=1)
    # 0 = frozen; the GR reference uses 0.3 ("soft freeze")
    lower_layer_lr_scale: float = setting(0.0, ge=0.0, le=1.0, note="0 = frozen")
    attention_weight: float = setting(1.0, ge=0.0)
    hidden_mse_weight: float = setting(100.0, ge=0.0)
    beta_weight: float = setting(5000.0, ge=0.0)
    gamma_weight: float = setting(5.0, ge=0.0)
    mlm_weight: float = setting(0.5, ge=0.0, le=1.0)  # distillation: a*MLM + (1-a)*KD + NSP
    kd_temperature: float = setting(1.0, gt=0.0)
    # student layer i <- teacher layer layer_map[i]; [] = default
    layer_map: list[int] = setting(default_factory=list, ge=0, note="each item; [] = default")
    # BERT-kind teacher (wider word embeddings than the student's): 'pca' starts the student's
    # word table from the PCA projection of the teacher's to encoder.embedding_size; 'random' does not
    teacher_embedding_init: str = setting("pca", choices=("pca", "random"))
    # Which of the teacher run's stages teaches the layers: its pre-trained encoder (the paper),
    # or the encoder fine-tuned on the task (TinyBERT's task-specific distillation: hidden
    # states and attentions that already carry the task's features).
    teacher_stage: str = setting("teacher", choices=("teacher", "finetune-classification"))
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass
class FinetuneConfig:
    """Task fine-tuning with AdamW (warm-up over warmup_fraction of the steps, then linear decay)."""

    task: str = setting("classification", choices=("classification", "squad"))
    num_classes: int = setting(2, ge=2)  # set from the data by `mbert train finetune`
    batch_size: int = setting(32, ge=1)
    epochs: float = setting(2.0, gt=0.0)
    steps: int = setting(0, ge=0, note="0 = derive from epochs")
    learning_rate: float = setting(1e-3, gt=0.0)
    warmup_fraction: float = setting(0.1, ge=0.0, lt=1.0)
    weight_decay: float = setting(0.01, ge=0.0)
    # Layer-wise learning-rate decay (training/layer_decay.py): layer i of L trains at
    # decay ** (L - i) of the rate, the embeddings at decay ** (L + 1), the head at the full rate.
    layer_lr_decay: float = setting(1.0, gt=0.0, le=1.0, note="1 = off")
    # Keep the word-embedding table as initialised: its AdamW update is a dense pass over
    # vocab x width (30522 x 384 for MiniLM) every step although a batch touches a few hundred rows.
    freeze_word_embeddings: bool = False
    # task distillation weight with --distill-from
    distill_weight: float = setting(0.0, ge=0.0, le=1.0, note="0 = 0.5")
    max_examples: int = setting(0, ge=0, note="0 = all")
    # Task distillation's transfer set (with --distill-from; data/transfer_set.py): masked copies
    # of each training sentence and unlabelled sentences ('plots' = the film corpus's plot
    # sentences, or a .txt file), all labelled by the teacher. Steps still count labelled epochs.
    transfer_masked_copies: int = setting(0, ge=0)
    transfer_unlabelled: str = ""
    doc_stride: int = setting(64, ge=1)
    max_query_length: int = setting(32, ge=1)
