"""Batches of similar-length sentences, cut to their longest one: task fine-tuning pays for tokens, not padding.

Sentences of the shipped task are 25 tokens on average and padded to seq_len (48-128): most
of a fixed-shape batch is padding, and an encoder's cost grows with the padded length. So,
as Hugging Face's `group_by_length` and fairseq do, training batches are drawn from length
buckets (`tf.data.Dataset.bucket_by_sequence_length`: shuffled, then grouped, so each batch
is still a random draw of its bucket) and every batch is cut to its longest sentence (+1, see `kept_width`). Padded
positions are masked out of attention and pooling, so outputs are those of the padded batch
up to float rounding (tests/data/test_length_batches.py checks it).
Evaluation batches, where order does not matter, are formed from the length-sorted examples.
The training step's tf.function then sees a [batch, None] input spec and traces once.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

MASK = "input_mask"
BUCKET_WIDTH = 8  # tokens per length bucket: finer buckets pad less but split batches more
# The lengths a fine-tune's data.seq_len is fitted from (`fitted_seq_len`): with grouped batches
# it only caps truncation, so the smallest that keeps nearly every sentence whole.
SEQ_LEN_CHOICES = (64, 128, 256, 512)
COVERAGE = 0.99  # share of the task's sentences that must fit untruncated


def token_lengths(tokenizer, texts_a, texts_b=None) -> np.ndarray:
    """Word pieces per example as `encoding.encode_pairs` packs it ([CLS] a [SEP] (b [SEP])), untruncated."""
    first = tokenizer.tokenize(list(texts_a))
    out = np.array([len(a) + 2 for a in first], np.int64)
    if texts_b is not None and any(t is not None for t in texts_b):
        has_b = [i for i, t in enumerate(texts_b) if t is not None]
        second = tokenizer.tokenize([texts_b[i] for i in has_b])
        out[has_b] += np.array([len(b) + 1 for b in second], np.int64)
    return out


def fitted_seq_len(example_lengths, cap: int, coverage: float = COVERAGE) -> int:
    """The smallest of SEQ_LEN_CHOICES holding `coverage` of the examples whole, at most `cap` (the position table).

    Grouped batches are cut to their longest sentence anyway: a longer seq_len costs only
    the few long batches, a shorter one truncates sentences, so the fit errs long.
    """
    example_lengths = np.asarray(example_lengths)
    if example_lengths.size == 0:
        return min(SEQ_LEN_CHOICES[1], cap)
    for choice in SEQ_LEN_CHOICES:
        if choice >= cap:
            return cap
        if np.mean(example_lengths <= choice) >= coverage:
            return choice
    return min(SEQ_LEN_CHOICES[-1], cap)


def lengths(features: dict) -> np.ndarray:
    """Real tokens per example ([CLS] ... [SEP], from the mask) of padded numpy features."""
    return np.asarray(features[MASK]).sum(axis=1).astype(np.int64)


def length_order(features: dict) -> np.ndarray:
    """Example indices sorted by length (stable: ties keep their order)."""
    return np.argsort(lengths(features), kind="stable")


def trim_batch(features: dict, *rest, multiple: int = 1):
    """tf.data map: cuts every [batch, seq] feature to the batch's longest example + 1 (`kept_width`),
    rounded up to a multiple of `multiple` columns (fewer distinct shapes, for XLA)."""
    longest = tf.cast(tf.reduce_max(tf.reduce_sum(features[MASK], axis=1)), tf.int32)
    width = tf.minimum((longest + multiple) // multiple * multiple, tf.shape(features[MASK])[1])
    cut = {name: value[:, :width] for name, value in features.items()}
    return (cut, *rest)


def kept_width(longest: int, padded: int) -> int:
    """Columns a trimmed batch keeps: one [PAD] after the longest sentence, because MobileBERT's
    trigram embedding reads each token's right neighbour, and the last token's is the [PAD]
    embedding in a padded batch, not the zeros it would see at the edge of a cut one."""
    return min(longest + 1, padded)


def bucketed_batches(ds, batch_size: int, seq_len: int, *, drop_remainder: bool, multiple: int = 1):
    """Groups an (already shuffled) dataset of (features, ...) examples into same-bucket batches, trimmed
    (widths rounded up to a multiple of `multiple`: at most ceil(seq_len / multiple) shapes)."""
    boundaries = list(range(BUCKET_WIDTH + 1, seq_len + 1, BUCKET_WIDTH))
    ds = ds.bucket_by_sequence_length(
        lambda features, *_: tf.cast(tf.reduce_sum(features[MASK]), tf.int32),
        bucket_boundaries=boundaries, bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        drop_remainder=drop_remainder)
    return ds.map(functools.partial(trim_batch, multiple=multiple), num_parallel_calls=tf.data.AUTOTUNE)


def sorted_batches(arrays: tuple, batch_size: int):
    """Ordered batches of (features, ...) numpy arrays, sorted by length and trimmed (for evaluation)."""
    order = length_order(arrays[0])
    picked = tuple({k: v[order] for k, v in a.items()} if isinstance(a, dict) else a[order] for a in arrays)
    return tf.data.Dataset.from_tensor_slices(picked).batch(batch_size).map(trim_batch)


def predict_by_length(predict, features: dict, batch_size: int) -> np.ndarray:
    """`predict(batch features) -> [b, ...] numpy` over length-sorted, trimmed batches, returned in example order."""
    real = lengths(features)
    order = np.argsort(real, kind="stable")  # length_order, without counting the mask twice
    n = len(order)
    out = [None] * ((n + batch_size - 1) // batch_size)
    for j, i in enumerate(range(0, n, batch_size)):
        idx = order[i:i + batch_size]
        width = kept_width(int(real[idx].max()), features[MASK].shape[1])
        out[j] = predict({k: v[idx, :width] for k, v in features.items()})
    result = np.concatenate(out)
    unsorted = np.empty_like(result)
    unsorted[order] = result
    return unsorted
