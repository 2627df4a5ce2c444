"""The student's fresh start: the teacher's embedding, MLM head and NSP head copied by name."""

from __future__ import annotations

import numpy as np

from mbert_cli.modeling.encoders import embedding_layer


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


def pca_projection(table, size: int):
    """(table projected onto its `size` top principal directions [rows, size], fraction of variance kept).

    The rows are centred (the mean row is shared by every token and tells none apart) and
    projected onto the eigenvectors of their covariance with the largest eigenvalues, so
    distances between tokens along the directions where the teacher's tokens differ most
    are kept exactly. Eigen-decomposition of the [width, width] covariance (numpy `eigh`),
    cheaper than an SVD of the [vocab, width] table; the test checks it against `svd`.
    """
    x = np.asarray(table, np.float64)
    if size > x.shape[1]:
        raise ValueError(f"cannot project {x.shape[1]}-wide rows onto {size} directions")
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending
    order = np.argsort(values)[::-1][:size]
    kept = float(values[order].sum() / max(values.sum(), 1e-30))
    return (centred @ vectors[:, order]).astype(np.float32), kept


def init_from_bert_teacher(student, teacher, mode: str) -> tuple[list[str], str]:
    """The student's fresh start from a BERT-kind teacher: (copied tensors, one line saying what was done).

    Nothing else of a BertEncoderV2 fits a MobileBERT student by shape or meaning (its
    embedding sum is LayerNorm-ed at the teacher's width, its MLM head, when it has one,
    decodes through the 384-wide table), so only the word table is carried over, and only
    by `mode='pca'`.
    """
    word = embedding_layer(student.encoder).word_embedding.embeddings
    t_table = teacher.encoder.get_embedding_table().numpy()
    if mode != "pca":
        return [], ("word embeddings: random (distill.teacher_embedding_init=random); "
                    "nothing copied from the teacher")
    projected, kept = pca_projection(t_table, int(word.shape[1]))
    word.assign(projected)
    return (["embedding/word_embedding/embeddings"],
            f"word embeddings: PCA projection of the teacher's {t_table.shape[1]}-wide table to {word.shape[1]} "
            f"({kept:.1%} of its variance; distill.teacher_embedding_init=pca)")
