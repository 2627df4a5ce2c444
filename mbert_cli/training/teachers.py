"""The frozen teacher a student learns from, one class per teacher kind.

The student's stage (`student.py`) and the losses (`distiller.py`) use only this interface:
`check` (can it teach this student; the layer map), `locate` (its checkpoint), `load`
(build it float32 and restore its weights), `notes` (what the log says about how it
teaches), `has_mlm` (whether its MLM logits are a KD target), `layer_outputs` / `outputs`
(what the losses compare) and `init_student` (what a fresh student copies). A new kind of teacher (another
encoder, an imported checkpoint) is a new class in `TEACHERS`.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from mbert_cli.config.run import RunConfig
from mbert_cli.errors import MbertError
from mbert_cli.modeling.models import build_classifier
from mbert_cli.modeling.pretrainer import MODEL_INPUTS, build_pretrainer, model_inputs
from mbert_cli.training.checkpoints import restore, stage_checkpoint_path
from mbert_cli.training.compat import check_bert_teacher, check_teacher_compatible
from mbert_cli.training.forward import bert_encoder_forward, encoder_forward
from mbert_cli.training.run_dir import read_json
from mbert_cli.training.weight_init import init_from_bert_teacher, init_from_teacher


class MobileBertTeacher:
    """A MobileBERT-kind pre-training model (IB-BERT) trained by `mbert train teacher`."""

    has_mlm = True  # its MLM logits are the pre-training distillation's KD target

    def __init__(self, pretrainer, source: str = "", cfg: RunConfig | None = None):
        self.pretrainer = pretrainer
        self.source = source  # the checkpoint it was restored from
        self.cfg = cfg

    def notes(self, student_cfg: RunConfig, layer_map: list[int]) -> list[str]:
        """Lines the student's log says once about how this teacher teaches (none: the paper's recipe)."""
        return []

    @staticmethod
    def check(teacher_cfg: RunConfig, student_cfg: RunConfig) -> list[int]:
        return check_teacher_compatible(teacher_cfg, student_cfg)

    @staticmethod
    def locate(run: Path, stage: str = "teacher") -> str:
        """The checkpoint to learn from (a clear error before any model is built when there is none)."""
        if stage != "teacher":
            stage_checkpoint_path(run, "teacher", "latest")  # its heads come from the pre-trained stage
        return stage_checkpoint_path(run, stage, "latest")

    @classmethod
    def load(cls, path: str, cfg: RunConfig) -> MobileBertTeacher:
        """Builds the teacher (float32, frozen) and restores it from `path`."""
        pm = restore_teacher(path, cfg)
        return cls(pm, path, cfg)

    def layer_outputs(self, batch: dict, upto: int):
        """(hidden states [embedding, layer 0..upto], attention probabilities per layer)."""
        return encoder_forward(self.pretrainer.encoder, batch, upto, training=False)

    def outputs(self, batch: dict, layers: bool = False) -> dict:
        """MLM logits (+ every layer's hidden states and attention when `layers`)."""
        out = self.pretrainer.model(model_inputs(batch), training=False)
        keep = {"mlm_logits": out["mlm_logits"]}
        if layers:
            keep.update(hidden=list(out["encoder_outputs"]), attention=list(out["attention_scores"]))
        return keep

    def init_student(self, student, student_cfg: RunConfig) -> tuple[list[str], str]:
        """(tensors copied into the fresh student, what the log says about them)."""
        # LayerNorm's gamma/beta scale a normalised vector, NoNorm's do not: copied only between equals
        same_norm = self.cfg is not None and self.cfg.encoder.normalization_type == student_cfg.encoder.normalization_type
        copied = init_from_teacher(student, self.pretrainer, same_norm)
        return copied, f"{len(copied)} tensors copied (embedding, MLM and NSP heads)"


class BertTeacher:
    """A BERT-kind teacher (tf-models `BertEncoderV2`): imported (`mbert import minilm`) or trained.

    Feature maps compare its layer outputs with the student's (equal widths); its attention
    heads are averaged in contiguous groups onto the student's (`losses.group_heads`). An
    imported sentence model (MiniLM) has no MLM head (`import.json`): pre-training
    distillation then trains on the student's own MLM + NSP plus the layer transfer of
    every mapped layer, with no MLM-logit KD term.
    """

    def __init__(self, pretrainer, source: str = "", has_mlm: bool = True, cfg: RunConfig | None = None):
        self.pretrainer, self.source, self.has_mlm, self.cfg = pretrainer, source, has_mlm, cfg

    @staticmethod
    def check(teacher_cfg: RunConfig, student_cfg: RunConfig) -> list[int]:
        return check_bert_teacher(teacher_cfg, student_cfg)

    locate = MobileBertTeacher.locate

    @classmethod
    def load(cls, path: str, cfg: RunConfig) -> BertTeacher:
        """Builds the teacher (float32, frozen) and restores it from `path` (run/STAGE/checkpoints/ckpt-N)."""
        pm = restore_teacher(path, cfg)
        imported = read_json(Path(path).parents[2] / "import.json") or {}
        has_mlm = imported.get("heads", {}).get("mlm", "mapped") == "mapped"
        return cls(pm, path, has_mlm, cfg)

    def notes(self, student_cfg: RunConfig, layer_map: list[int]) -> list[str]:
        t, s = self.cfg.encoder, student_cfg.encoder
        lines = [f"Teacher: BERT-kind ({t.num_layers} layers, {t.hidden_size} wide, {t.num_heads} heads); student "
                 f"layers 0..{s.num_layers - 1} learn from teacher layers {layer_map}"
                 + (" (deeper student: teacher layers repeated)" if s.num_layers > t.num_layers else "") + "; "
                 + (f"attention: each student head against the mean of {t.num_heads // s.num_heads} contiguous "
                    "teacher heads." if t.num_heads != s.num_heads else "attention: heads one to one.")]
        if not self.has_mlm:
            lines.append("The teacher has no MLM head: pre-training distillation = the student's own MLM + NSP "
                         "+ hidden-state and attention transfer of every layer, no MLM-logit KD term.")
        return lines

    def layer_outputs(self, batch: dict, upto: int):
        """(hidden states [embedding, layer 0..upto], attention probabilities per layer)."""
        return bert_encoder_forward(self.pretrainer.encoder, batch, upto, training=False)

    def outputs(self, batch: dict, layers: bool = False) -> dict:
        """MLM logits when it has an MLM head (+ every layer's hidden states and attention when `layers`)."""
        keep = {}
        if layers or not self.has_mlm:
            hidden, attention = self.layer_outputs(batch, self.cfg.encoder.num_layers - 1)
            keep.update(hidden=hidden, attention=attention)
        if self.has_mlm:
            sequence = keep["hidden"][-1] if keep else self.pretrainer.encoder(
                model_inputs(batch, MODEL_INPUTS),
                training=False)["sequence_output"]
            keep["mlm_logits"] = self.pretrainer.masked_lm(sequence, masked_positions=batch["masked_lm_positions"])
        return keep

    def init_student(self, student, student_cfg: RunConfig) -> tuple[list[str], str]:
        return init_from_bert_teacher(student, self.pretrainer, student_cfg.distill.teacher_embedding_init)


TEACHERS = {"mobilebert": MobileBertTeacher, "bert": BertTeacher}


def restore_teacher(path: str, cfg: RunConfig):
    """The frozen float32 pre-training model of a teacher checkpoint `run/STAGE/checkpoints/ckpt-N`.

    From a fine-tuned stage (`distill.teacher_stage=finetune-classification`) the encoder is
    the fine-tuned one and the MLM/NSP heads (absent from a task checkpoint) come from the
    run's pre-trained `teacher` stage.
    """
    pm = build_pretrainer(cfg.encoder, name="teacher")
    stage_dir = Path(path).parents[1]
    if stage_dir.name == "teacher":
        restore(tf.train.Checkpoint(model=pm.model), path)
    else:
        restore(tf.train.Checkpoint(model=pm.model), stage_checkpoint_path(stage_dir.parent, "teacher", "latest"))
        task_model, _ = build_classifier(cfg.encoder, cfg.finetune.num_classes, encoder=pm.encoder)
        restore(tf.train.Checkpoint(model=task_model), path)  # refills the shared encoder's variables
    pm.model.trainable = False
    return pm


def teacher_class(teacher_cfg: RunConfig):
    """The teacher class for a teacher run's encoder kind."""
    try:
        return TEACHERS[teacher_cfg.encoder.kind]
    except KeyError:
        raise MbertError(f"no distillation teacher of kind {teacher_cfg.encoder.kind!r}",
                         hint=f"use a teacher run of kind: {', '.join(TEACHERS)}") from None
