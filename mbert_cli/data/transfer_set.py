"""Task distillation's transfer set: more sentences than the labelled ones, labelled by the teacher.

A student learns more of a fine-tuned teacher from its soft labels on many sentences than
on the labelled set alone (Tang et al. 2019, "Distilling task-specific knowledge from BERT
into simple neural networks"; TinyBERT's augmentation). Two sources, both without labels:

- masked copies of the training sentences: each copy has `MASK_RATE` of its word pieces
  replaced by [MASK] (Tang et al.'s masking rule), so the teacher says how the sentiment
  moves without those words;
- unlabelled in-domain sentences: 'plots', the film corpus's plot-synopsis sentences (the
  task's domain; validation sentences are reviews and never among them), or a text file
  with one sentence per line.

Rows without a label carry UNLABELLED: the loss gives them the KD term only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mbert_cli.data.classification import read_shipped_rows
from mbert_cli.data.corpus import split_sentences
from mbert_cli.errors import MbertError

UNLABELLED = -1
MASK_RATE = 0.1
PLOTS = "plots"


def masked_copies(features: dict, copies: int, mask_id: int, seed: int, rate: float = MASK_RATE) -> dict:
    """`copies` copies of every row with `rate` of its word pieces (not [CLS]/[SEP]/padding) set to `mask_id`."""
    ids, mask = features["input_word_ids"], features["input_mask"]
    rng = np.random.default_rng(seed)
    lengths = mask.sum(axis=1).astype(int)
    positions = np.arange(ids.shape[1])[None, :]
    # word pieces: after [CLS] and before the last real token ([SEP]); pairs keep their middle [SEP] too
    inner = (positions >= 1) & (positions < (lengths - 1)[:, None])
    out = {name: np.concatenate([value] * copies) for name, value in features.items()}
    hit = (rng.random(out["input_word_ids"].shape) < rate) & np.concatenate([inner] * copies)
    out["input_word_ids"] = np.where(hit, mask_id, out["input_word_ids"]).astype(ids.dtype)
    return out


def unlabelled_sentences(spec: str) -> list[str]:
    """The sentences of `spec`: 'plots' (the shipped film corpus's plot sentences) or a .txt file."""
    if spec == PLOTS:
        return [s for category, text, _ in read_shipped_rows() if category == "plot" for s in split_sentences(text)]
    path = Path(spec)
    if not path.is_file():
        raise MbertError(f"unlabelled sentences not found: {spec}",
                         hint="set finetune.transfer_unlabelled to 'plots' or a .txt file with one sentence per line")
    sentences = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise MbertError(f"{spec} holds no sentences", hint="one sentence per line, UTF-8")
    return sentences
