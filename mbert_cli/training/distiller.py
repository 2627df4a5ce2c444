"""Each distillation stage's loss function and the variables it trains (see `stages.py`).

- `layer_<l>` (progressive): transfer loss of layer l only; layer l trained, layers below
  frozen (or soft-frozen by a second optimizer at `lower_layer_lr_scale` x the learning
  rate: with LAMB/Adam a smaller gradient would NOT mean a smaller step, so the scale is
  applied to the learning rate), embeddings frozen. Only layers 0..l are run.
- `joint`: mean of every layer's transfer loss; all transformer layers trained,
  embeddings frozen.
- `distill`: a*MLM + (1-a)*KD + NSP; the whole student trained. With a teacher that has
  no MLM head (an imported sentence model, `teacher.has_mlm` False) there is no KD target:
  MLM + NSP + mean of every layer's transfer loss instead.
- `auxiliary`: distill loss + mean of every layer's transfer loss; the whole student.

The teacher's attention heads are averaged in groups onto the student's when it has more
(`losses.group_heads`; equal counts pass through).
"""

from __future__ import annotations

from mbert_cli.config.run import RunConfig
from mbert_cli.modeling.encoders import transformer_layers
from mbert_cli.modeling.pretrainer import model_inputs
from mbert_cli.training import losses
from mbert_cli.training.forward import encoder_forward
from mbert_cli.training.losses import TransferWeights
from mbert_cli.training.stages import StageSpec


def stage_variables(student, spec: StageSpec):
    """(trained variables, soft-frozen lower-layer variables) of one stage."""
    layers = transformer_layers(student.encoder)
    if spec.kind == "layer":
        lower = [v for layer in layers[:spec.layer] for v in layer.trainable_variables]
        return list(layers[spec.layer].trainable_variables), lower
    if spec.kind == "joint":
        return [v for layer in layers for v in layer.trainable_variables], []
    return list(student.model.trainable_variables), []


class Distiller:
    """Builds each stage's loss function over a student and a frozen teacher.

    `teacher` is a teacher model from `teachers.py` (its outputs, whatever its kind).
    """

    def __init__(self, student, teacher, cfg: RunConfig, layer_map: list[int]):
        self.student, self.teacher, self.cfg, self.layer_map = student, teacher, cfg, layer_map
        d = cfg.distill
        self.weights = TransferWeights(d.attention_weight, d.hidden_mse_weight, d.beta_weight, d.gamma_weight)

    def _layers(self, spec: StageSpec) -> list[int]:
        return [spec.layer] if spec.kind == "layer" else list(range(self.cfg.encoder.num_layers))

    def teacher_fn(self, spec: StageSpec):
        """batch -> the frozen teacher's outputs this stage needs (run outside the gradient tape)."""
        if spec.kind in ("layer", "joint"):
            top = max(self.layer_map[i] for i in self._layers(spec))

            def fn(batch):
                hidden, attention = self.teacher.layer_outputs(batch, top)
                return {"hidden": hidden, "attention": attention}
            return fn

        def fn(batch):
            return self.teacher.outputs(batch, layers=spec.kind == "auxiliary" or not self._has_mlm)
        return fn

    @property
    def _has_mlm(self) -> bool:
        return getattr(self.teacher, "has_mlm", True)

    def loss_fn(self, spec: StageSpec):
        """(batch, teacher outputs) -> dict of loss terms with 'loss'."""
        d = self.cfg.distill
        layers = self._layers(spec)

        def transfer(teacher, s_hidden, s_attn, mask):
            heads = self.cfg.encoder.num_heads
            per = [losses.layer_transfer_loss(teacher["hidden"][self.layer_map[i] + 1], s_hidden[i + 1],
                                              losses.group_heads(teacher["attention"][self.layer_map[i]], heads),
                                              s_attn[i], mask, self.weights)
                   for i in layers]
            return {k: sum(p[k] for p in per) / len(per) for k in per[0]}

        if spec.kind in ("layer", "joint"):
            def fn(batch, teacher):
                s_hidden, s_attn = encoder_forward(self.student.encoder, batch, max(layers), training=True)
                terms = transfer(teacher, s_hidden, s_attn, batch["input_mask"])
                terms["loss"] = terms.pop("transfer")
                return terms
            return fn

        def fn(batch, teacher):
            s_out = self.student.model(model_inputs(batch), training=True)
            if not self._has_mlm:  # no KD target: the student's own MLM + NSP, plus the layer transfer
                terms = losses.pretraining_loss(s_out, batch)
            else:
                terms = losses.distillation_loss(s_out, teacher, batch, d.mlm_weight, d.kd_temperature)
            if spec.kind == "auxiliary" or not self._has_mlm:
                aux = transfer(teacher, s_out["encoder_outputs"], s_out["attention_scores"], batch["input_mask"])
                terms.update(aux)
                terms["loss"] = terms["loss"] + aux["transfer"]
            return terms
        return fn
