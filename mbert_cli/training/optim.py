"""Optimizers from tf-models-official: LAMB (pre-training, distillation) and AdamW (fine-tuning).

Both get a linear warm-up then a linear (polynomial power 1) decay to 0 over the phase.
Gradient clipping is done by the training loop on the all-reduced gradients (one global
norm over every replica), so the optimizers themselves do not clip.
"""

from __future__ import annotations

from official.modeling import optimization

from mbert_cli.config.training import OptimizerConfig

# As BERT: no weight decay on LayerNorm/NoNorm parameters and biases.
_NO_DECAY = ["LayerNorm", "layer_norm", "embedding_norm", "bias", "beta", "gamma"]


def build_optimizer(cfg: OptimizerConfig, total_steps: int, kind: str = "lamb", lr_scale: float = 1.0,
                    warmup_steps: int | None = None):
    """A legacy tf_keras optimizer (LAMB or AdamWeightDecay) with warm-up + linear decay.

    Args:
      cfg: learning rate, warm-up, weight decay.
      total_steps: steps of this phase (the decay reaches 0 at the end).
      kind: 'lamb' or 'adamw'.
      lr_scale: multiplies the learning rate (soft-frozen lower layers in distillation).
      warmup_steps: overrides cfg.warmup_steps.
    """
    warmup = cfg.warmup_steps if warmup_steps is None else warmup_steps
    warmup = max(0, min(int(warmup), max(total_steps - 1, 0)))
    if kind == "lamb":
        opt = {"type": "lamb", "lamb": {"weight_decay_rate": cfg.weight_decay,
                                        "exclude_from_weight_decay": _NO_DECAY,
                                        "exclude_from_layer_adaptation": _NO_DECAY}}
    elif kind == "adamw":
        opt = {"type": "adamw", "adamw": {"weight_decay_rate": cfg.weight_decay,
                                          "exclude_from_weight_decay": _NO_DECAY,
                                          "gradient_clip_norm": 0.0}}
    else:  # pragma: no cover - internal misuse
        raise ValueError(kind)
    params = optimization.OptimizationConfig({
        "optimizer": opt,
        "learning_rate": {"type": "polynomial", "polynomial": {
            "initial_learning_rate": cfg.learning_rate * lr_scale,
            "decay_steps": max(int(total_steps), 1), "end_learning_rate": 0.0, "power": 1.0}},
        "warmup": {"type": "linear", "linear": {"warmup_steps": warmup}} if warmup else {"type": None},
    })
    factory = optimization.OptimizerFactory(params)
    return factory.build_optimizer(factory.build_learning_rate())


def current_lr(optimizer) -> float:
    """The learning rate the optimizer applies at its current iteration."""
    lr = optimizer.learning_rate if hasattr(optimizer, "learning_rate") else optimizer.lr
    if callable(lr):
        return float(lr(optimizer.iterations))
    return float(lr)
