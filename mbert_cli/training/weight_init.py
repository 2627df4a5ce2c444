"""The student's fresh start: the teacher's embedding, MLM head and NSP head copied by name."""

from __future__ import annotations


def _relative(name: str, anchor: str | None) -> str | None:
    """Variable name relative to its layer ('.../masked_lm/transform/dense/kernel:0' -> 'transform/dense/kernel')."""
    name = name.split(":")[0]
    parts = name.split("/")
    if anchor is None:
        return "/".join(parts[1:])
    if anchor in parts:
        return "/".join(parts[parts.index(anchor) + 1:])
    return None


def init_from_teacher(student, teacher, same_norm: bool) -> list[str]:
    """Copies the teacher's embedding, MLM head and NSP head into the student where shapes match.

    Tensors are matched by name, not by position (MG's `set_weights` on the embedding layer
    pairs weights by list order, and the LayerNorm and NoNorm layers list gamma/beta in
    opposite orders). The embedding norm is copied only when both use the same
    normalization: LayerNorm's gamma/beta scale a normalised vector, NoNorm's do not.
    Returns the copied tensors as '<part>/<name>'.
    """
    from mbert_cli.modeling.encoders import embedding_layer  # noqa: PLC0415

    copied = []
    parts = [("embedding", embedding_layer(student.encoder), embedding_layer(teacher.encoder), False),
             ("masked_lm", student.masked_lm, teacher.masked_lm, True),
             ("next_sentence", student.nsp_head, teacher.nsp_head, True)]
    for part, s_layer, t_layer, anchored in parts:
        # Keras makes layer names unique per process ('masked_lm_1'), so anchor on each layer's own name.
        t_vars = {_relative(v.name, t_layer.name if anchored else None): v for v in t_layer.weights}
        for v in s_layer.weights:
            rel = _relative(v.name, s_layer.name if anchored else None)
            if rel is None or rel not in t_vars or tuple(t_vars[rel].shape) != tuple(v.shape):
                continue
            if part == "embedding" and rel.startswith("embedding_norm") and not same_norm:
                continue
            v.assign(t_vars[rel])
            copied.append(f"{part}/{rel}")
    return sorted(set(copied))
