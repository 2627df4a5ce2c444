"""The frozen teacher a student learns from, one class per teacher kind.

The student's stage (`student.py`) and the losses (`distiller.py`) use only this interface:
`check` (can it teach this student; the layer map), `locate` (its checkpoint), `load`
(build it float32 and restore its weights), `layer_outputs` / `outputs` (what the losses
compare) and `init_student` (what a fresh student copies). A new kind of teacher (another
encoder, an imported checkpoint) is a new class in `TEACHERS`.
"""

from __future__ import annotations

from pathlib import Path

from mbert_cli.config.run import RunConfig
from mbert_cli.errors import MbertError
from mbert_cli.training.session import build_pretrainer, model_inputs


class MobileBertTeacher:
    """A MobileBERT-kind pre-training model (IB-BERT) trained by `mbert train teacher`."""

    def __init__(self, pretrainer, source: str = ""):
        self.pretrainer = pretrainer
        self.source = source  # the checkpoint it was restored from

    @staticmethod
    def check(teacher_cfg: RunConfig, student_cfg: RunConfig) -> list[int]:
        from mbert_cli.training.compat import check_teacher_compatible  # noqa: PLC0415

        return check_teacher_compatible(teacher_cfg, student_cfg)

    @staticmethod
    def locate(run: Path) -> str:
        """The checkpoint to learn from (a clear error before any model is built when there is none)."""
        from mbert_cli.training.checkpoints import stage_checkpoint_path  # noqa: PLC0415

        return stage_checkpoint_path(run, "teacher", "latest")

    @classmethod
    def load(cls, path: str, cfg: RunConfig) -> MobileBertTeacher:
        """Builds the teacher (float32, frozen) and restores it from `path`."""
        import tensorflow as tf  # noqa: PLC0415

        from mbert_cli.training.checkpoints import restore  # noqa: PLC0415

        pm = build_pretrainer(cfg.encoder, name="teacher")
        restore(tf.train.Checkpoint(model=pm.model), path)
        pm.model.trainable = False
        return cls(pm, path)

    def layer_outputs(self, batch: dict, upto: int):
        """(hidden states [embedding, layer 0..upto], attention probabilities per layer)."""
        from mbert_cli.training.forward import encoder_forward  # noqa: PLC0415

        return encoder_forward(self.pretrainer.encoder, batch, upto, training=False)

    def outputs(self, batch: dict, layers: bool = False) -> dict:
        """MLM logits (+ every layer's hidden states and attention when `layers`)."""
        out = self.pretrainer.model(model_inputs(batch), training=False)
        keep = {"mlm_logits": out["mlm_logits"]}
        if layers:
            keep.update(hidden=list(out["encoder_outputs"]), attention=list(out["attention_scores"]))
        return keep

    def init_student(self, student, same_norm: bool) -> list[str]:
        from mbert_cli.training.weight_init import init_from_teacher  # noqa: PLC0415

        return init_from_teacher(student, self.pretrainer, same_norm)


TEACHERS = {"mobilebert": MobileBertTeacher}


def teacher_class(teacher_cfg: RunConfig):
    """The teacher class for a teacher run's encoder kind."""
    try:
        return TEACHERS[teacher_cfg.encoder.kind]
    except KeyError:
        raise MbertError(f"no distillation teacher of kind {teacher_cfg.encoder.kind!r}",
                         hint=f"use a teacher run of kind: {', '.join(TEACHERS)}") from None
