"""Can this teacher teach this student? One clear error when not, else the layer map."""

from __future__ import annotations

from mbert_cli.config.run import RunConfig
from mbert_cli.data.vocab import resolve_vocab
from mbert_cli.errors import MbertError
from mbert_cli.training.stages import resolve_layer_map


def check_teacher_compatible(teacher: RunConfig, student: RunConfig) -> list[int]:
    """Raises one clear MbertError when the teacher cannot teach this student; returns the layer map."""
    t, s = teacher.encoder, student.encoder

    def bad(what, tv, sv, hint):
        return MbertError(f"the teacher ({teacher.preset}) has {what} {tv} but the student ({student.preset}) has {sv}",
                          hint=hint)

    if t.kind != "mobilebert" or s.kind != "mobilebert":
        raise MbertError("layer-wise distillation needs MobileBERT-kind teacher and student encoders",
                         hint="use ib-bert-large/nano-teacher as teacher and a mobilebert/nano-student preset")
    if t.hidden_size != s.hidden_size:
        raise bad("feature-map width", t.hidden_size, s.hidden_size,
                  "feature-map transfer compares layer outputs: use a student with encoder.hidden_size equal to the teacher's")
    if t.num_heads != s.num_heads:
        raise bad("num_heads", t.num_heads, s.num_heads, "attention transfer compares heads one by one: use equal encoder.num_heads")
    if t.vocab_size != s.vocab_size:
        raise bad("vocabulary size", t.vocab_size, s.vocab_size, "teacher and student must use the same vocab (data.vocab)")
    if t.embedding_size != s.embedding_size:
        raise bad("embedding size", t.embedding_size, s.embedding_size,
                  "the student starts from the teacher's embedding: use equal encoder.embedding_size")
    if teacher.data.seq_len and t.max_sequence_length < student.data.seq_len:
        raise bad("max sequence length", t.max_sequence_length, student.data.seq_len, "lower data.seq_len")
    return resolve_layer_map(student.distill, s.num_layers, t.num_layers)


def check_bert_teacher(teacher: RunConfig, student: RunConfig) -> list[int]:
    """A BERT-kind (BertEncoderV2) teacher for a MobileBERT student: one clear MbertError, else the layer map.

    Feature maps need equal widths (teacher hidden_size = student inter-block hidden_size);
    attention transfer needs the teacher's heads to fall into equal contiguous groups, one
    per student head (`losses.group_heads`); both must read the same token ids (same vocab).
    """
    t, s = teacher.encoder, student.encoder
    who = f"the teacher ({teacher.preset or 'imported ' + t.kind})"
    if s.kind != "mobilebert":
        raise MbertError(f"the student ({student.preset}) is a {s.kind}-kind encoder; distillation trains a "
                         "MobileBERT-kind student", hint="use a mobilebert student preset, e.g. --preset minilm-student")
    if t.hidden_size != s.hidden_size:
        raise MbertError(f"{who} has hidden size {t.hidden_size} but the student ({student.preset}) has inter-block "
                         f"hidden size {s.hidden_size}: feature-map transfer compares them",
                         hint=f"--set encoder.hidden_size={t.hidden_size} (or a preset shaped for this teacher, "
                              "e.g. minilm-student)")
    if s.num_heads > t.num_heads or t.num_heads % s.num_heads:
        raise MbertError(f"{who} has {t.num_heads} attention heads, which do not split into {s.num_heads} equal "
                         "groups, one per student head",
                         hint=f"--set encoder.num_heads=N with N dividing {t.num_heads} (and the student's "
                              f"intra_bottleneck_size {s.intra_bottleneck_size})")
    if t.vocab_size != s.vocab_size or (resolve_vocab(teacher.data.vocab, t.vocab_size).read_bytes()
                                        != resolve_vocab(student.data.vocab, s.vocab_size).read_bytes()):
        raise MbertError(f"{who} and the student ({student.preset}) use different vocabularies "
                         f"({t.vocab_size} and {s.vocab_size} tokens, or different files): the teacher would read "
                         "other token ids", hint=f"use the teacher's vocab: --set encoder.vocab_size={t.vocab_size} "
                                                 f"--set data.vocab={teacher.data.vocab}")
    if student.distill.teacher_embedding_init == "pca" and s.embedding_size > t.embedding_size:
        raise MbertError(f"the student's {s.embedding_size}-wide word embedding cannot start from a projection of "
                         f"{who}'s {t.embedding_size}-wide one", hint="--set distill.teacher_embedding_init=random")
    if t.max_sequence_length < student.data.seq_len:
        raise MbertError(f"{who} has max sequence length {t.max_sequence_length} but the student reads "
                         f"data.seq_len={student.data.seq_len}", hint=f"--set data.seq_len={t.max_sequence_length}")
    return resolve_layer_map(student.distill, s.num_layers, t.num_layers)
