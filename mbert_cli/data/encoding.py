"""Packs tokenized texts into the fixed-shape model inputs `[CLS] a [SEP] (b [SEP])`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def truncate_pair(a: list[int], b: list[int] | None, max_tokens: int) -> tuple[list[int], list[int] | None]:
    """Drops tokens from the end of the longer text until both fit (BERT's longest-first rule)."""
    a = list(a)
    b = None if b is None else list(b)
    while len(a) + (len(b) if b is not None else 0) > max_tokens:
        if b is not None and len(b) > len(a):
            b.pop()
        else:
            a.pop()
    return a, b


def encode_pairs(tokenizer, texts_a: Sequence[str], texts_b: Sequence[str | None] | None,
                 seq_len: int) -> dict[str, np.ndarray]:
    """Model inputs for sentences or sentence pairs.

    Returns:
        input_word_ids int32 [N, seq_len], input_mask float32 [N, seq_len] (float: the
        models take a float mask so TFLite needs no Cast), input_type_ids int32 [N, seq_len].
    """
    ids_a = tokenizer.tokenize(list(texts_a))
    has_b = texts_b is not None and any(t is not None for t in texts_b)
    ids_b = tokenizer.tokenize([t or "" for t in texts_b]) if has_b else [None] * len(ids_a)
    n = len(ids_a)
    word_ids = np.zeros((n, seq_len), np.int32)
    types = np.zeros((n, seq_len), np.int32)
    mask = np.zeros((n, seq_len), np.float32)
    for i, (a, b) in enumerate(zip(ids_a, ids_b, strict=True)):
        if has_b and texts_b[i] is None:
            b = None
        a, b = truncate_pair(a, b, seq_len - (3 if b is not None else 2))
        tokens = [tokenizer.cls_id] + a + [tokenizer.sep_id]
        segment = [0] * len(tokens)
        if b is not None:
            tokens += b + [tokenizer.sep_id]
            segment += [1] * (len(b) + 1)
        word_ids[i, :len(tokens)] = tokens
        types[i, :len(tokens)] = segment
        mask[i, :len(tokens)] = 1.0
    return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": types}
