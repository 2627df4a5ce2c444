"""Can this teacher teach this student? One clear error when not, else the layer map."""

from __future__ import annotations

from mbert_cli.config.run import RunConfig
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
