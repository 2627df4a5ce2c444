"""MLM + NSP training instances, ported from BERT's `create_pretraining_data.py`.

Works on token ids. Each instance is `[CLS] A [SEP] B [SEP]` where A and B are runs of
whole sentences; half the time B is the true continuation, half the time it comes from
another document (`is_random_next`, NSP label 1). Then `mask_prob` of the tokens
(at most `max_predictions`) are chosen for MLM: 80% become [MASK], 10% a random token,
10% stay as they were. Two differences from BERT: the random token is drawn from the
non-special tokens, so a "random" replacement is never [CLS]/[SEP]/[PAD]; and a chunk
closes only once it holds two sentences (see `_instances_from_document`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

TokenDoc = list[list[int]]  # one document = sentences of token ids


@dataclass
class Instance:
    """One pre-training example before padding."""

    tokens: list[int]
    segment_ids: list[int]
    is_random_next: bool
    masked_positions: list[int]
    masked_labels: list[int]


@dataclass(frozen=True)
class SpecialIds:
    cls: int
    sep: int
    mask: int
    random_ids: Sequence[int]  # ids a "random" replacement may take


def create_instances(documents: list[TokenDoc], *, seq_len: int, mask_prob: float, max_predictions: int,
                     short_seq_prob: float, dupe_factor: int, ids: SpecialIds,
                     rng: random.Random,
                     on_document: Callable[[], None] | None = None) -> list[Instance]:
    """All instances of `documents`, `dupe_factor` passes with fresh masks, shuffled.

    `on_document` is called once per document and pass (for a progress bar).
    """
    documents = [d for d in documents if d]
    instances: list[Instance] = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            instances.extend(_instances_from_document(
                documents, index, seq_len, short_seq_prob, mask_prob, max_predictions, ids, rng))
            if on_document:
                on_document()
    rng.shuffle(instances)
    return instances


def _instances_from_document(documents: list[TokenDoc], index: int, seq_len: int, short_seq_prob: float,
                             mask_prob: float, max_predictions: int, ids: SpecialIds,
                             rng: random.Random) -> list[Instance]:
    document = documents[index]
    max_num_tokens = seq_len - 3  # [CLS], [SEP], [SEP]
    # Mostly fill the sequence; sometimes use a shorter one so the model also sees short inputs.
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = rng.randint(2, max_num_tokens)

    instances: list[Instance] = []
    chunk: list[list[int]] = []
    chunk_len = 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        chunk_len += len(document[i])
        # BERT closes a chunk as soon as it reaches the target length; we also wait for a
        # second sentence, else a single long sentence forces a random next and, at short
        # seq_len, NSP labels drift well above 50% random.
        if i == len(document) - 1 or (chunk_len >= target and len(chunk) >= 2):
            if chunk:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                tokens_a = [t for s in chunk[:a_end] for t in s]
                tokens_b: list[int] = []
                is_random_next = False
                if len(chunk) == 1 or (len(documents) > 1 and rng.random() < 0.5):
                    if len(documents) > 1:
                        is_random_next = True
                        target_b = target - len(tokens_a)
                        other = index
                        for _ in range(10):  # BERT's bounded retry for a different document
                            other = rng.randint(0, len(documents) - 1)
                            if other != index:
                                break
                        random_doc = documents[other]
                        start = rng.randint(0, len(random_doc) - 1)
                        for sentence in random_doc[start:]:
                            tokens_b.extend(sentence)
                            if len(tokens_b) >= target_b:
                                break
                        # The unused sentences go back so no text of this document is wasted.
                        i -= len(chunk) - a_end
                    else:
                        tokens_b = []
                else:
                    tokens_b = [t for s in chunk[a_end:] for t in s]
                _truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
                if tokens_a and tokens_b:
                    tokens = [ids.cls] + tokens_a + [ids.sep] + tokens_b + [ids.sep]
                    segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                    positions, labels = _mask(tokens, mask_prob, max_predictions, ids, rng)
                    instances.append(Instance(tokens, segment_ids, is_random_next, positions, labels))
            chunk = []
            chunk_len = 0
        i += 1
    return instances


def _truncate_pair(tokens_a: list[int], tokens_b: list[int], max_num_tokens: int, rng: random.Random) -> None:
    """Trims the longer side one token at a time, from the front or back at random (in place)."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def _mask(tokens: list[int], mask_prob: float, max_predictions: int, ids: SpecialIds,
          rng: random.Random) -> tuple[list[int], list[int]]:
    """Masks tokens in place; returns sorted positions and their original ids."""
    candidates = [i for i, t in enumerate(tokens) if t not in (ids.cls, ids.sep)]
    rng.shuffle(candidates)
    num = min(max_predictions, max(1, int(round(len(tokens) * mask_prob))))
    chosen = sorted(candidates[:num])
    labels = [tokens[p] for p in chosen]
    for p in chosen:
        r = rng.random()
        if r < 0.8:
            tokens[p] = ids.mask
        elif r < 0.9:
            tokens[p] = ids.random_ids[rng.randint(0, len(ids.random_ids) - 1)]
        # else: keep the original token (the model must not learn that masked == changed)
    return chosen, labels
