"""Training inputs: prepared MLM+NSP TFRecords (prepared on first use), task data, synthetic data.

`data.corpus=synthetic` (and `data.task_data=synthetic`) give learnable in-memory data of
the right shapes with no files: each sequence repeats every token 2 or 3 times, so a
masked token is predictable from its neighbours (and the next-sentence label, runs of 2
vs 3, from the sequence). Tests and step-time benchmarks use
it; real runs use the shipped corpus or a local one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from mbert_cli.config.run import RunConfig
from mbert_cli.data.classification import classification_dataset, load_classification
from mbert_cli.data.pretraining import prepare_pretraining_data, read_meta
from mbert_cli.data.pretraining import pretraining_dataset as read
from mbert_cli.data.task_sets import task_tokenizer
from mbert_cli.data.vocab import resolve_vocab
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import atomic_dir
from mbert_cli.modeling.encoders import INPUT_DTYPES
from mbert_cli.training.run_dir import pretrain_data_dir

SYNTHETIC = "synthetic"
_FIRST_ID = 5  # ids below are [PAD]/[UNK]/[CLS]/[SEP]/[MASK] in the shipped vocabs


def ensure_pretraining_data(run: Path, cfg: RunConfig, say=print) -> Path | None:
    """Returns runs/NAME/data/pretrain, preparing it first when meta.json is missing.

    Uses the same library call as `mbert data prepare`. Checks that the data's vocabulary
    size matches the model's and that there is something to train on.
    Returns None for synthetic data (nothing on disk).
    """
    if cfg.data.corpus == SYNTHETIC:
        return None
    out = pretrain_data_dir(run)
    if not (out / "meta.json").is_file():
        say(f"Preparing pre-training data in {out} (corpus {cfg.data.corpus}) ...")
        vocab = resolve_vocab(cfg.data.vocab, cfg.encoder.vocab_size)
        prepare_pretraining_data(cfg.data, vocab, out)
    meta = read_meta(out)
    size = meta.get("vocab", {}).get("size")
    if size is not None and int(size) != cfg.encoder.vocab_size:
        raise MbertError(f"the data in {out} uses a vocabulary of {size} tokens but the model has "
                         f"{cfg.encoder.vocab_size}",
                         hint=f"delete {out} to re-prepare it with the model's vocab, or set encoder.vocab_size={size}")
    if meta.get("seq_len") and int(meta["seq_len"]) > cfg.encoder.max_sequence_length:
        raise MbertError(f"the data in {out} has sequence length {meta['seq_len']}, above the model's "
                         f"{cfg.encoder.max_sequence_length}", hint=f"delete {out} and set data.seq_len lower")
    if int(meta.get("counts", {}).get("train_examples", 1)) <= 0:
        raise MbertError(f"the data in {out} has no training examples",
                         hint=f"use a larger corpus (data.corpus) and delete {out} to re-prepare")
    return out


# Replaying more than this many examples to resume would take minutes (paper-scale runs);
# beyond it a resumed run reshuffles instead (and says so).
REPLAY_MAX_EXAMPLES = 20_000_000


def replay_position(steps_done: int, global_batch: int, say=print) -> tuple[int, int]:
    """(shuffle seed offset, steps to skip) for a stage's training input after `steps_done` steps.

    Training inputs are shuffled with a fixed seed per stage, so skipping the batches the
    stage already read makes a resumed run read exactly the examples, in the order, that an
    uninterrupted run would have (tf.data iterator checkpoints would instead store the
    shuffle buffer in every checkpoint). Where that replay would read more than
    REPLAY_MAX_EXAMPLES, the input is reshuffled with another seed instead, and the user told.
    Dropout masks are not replayed (their random state is not checkpointed).
    """
    if steps_done <= 0:
        return 0, 0
    if steps_done * global_batch > REPLAY_MAX_EXAMPLES:
        say(f"Resuming after {steps_done} steps of this stage: replaying its {steps_done * global_batch:,} examples "
            f"would take too long, so its data is reshuffled from here (the order differs from an "
            f"uninterrupted run; no step is lost or repeated).")
        return steps_done, 0
    return 0, steps_done


def skip_steps(ds, steps: int, ctx):
    """Skips what this input pipeline served in `steps` steps: one batch per replica it feeds."""
    if steps <= 0:
        return ds
    return ds.skip(steps * max(1, ctx.num_replicas_in_sync // ctx.num_input_pipelines))


def pretraining_dataset(data_dir: Path | None, cfg: RunConfig, split: str, batch_size: int, *,
                        training: bool, input_context=None, seed: int = 0):
    """Batched MLM+NSP feature dicts from a prepared folder, or synthetic when data_dir is None."""
    if data_dir is None:
        return synthetic_pretraining(cfg, batch_size, training=training, seed=seed + (split == "eval") * 7919,
                                     input_context=input_context)
    return read(data_dir, split, batch_size, training=training, input_context=input_context, seed=seed)


def synthetic_pretraining(cfg: RunConfig, batch_size: int, *, training: bool = True, seed: int = 0,
                          input_context=None, num_batches: int = 64):
    """Learnable synthetic MLM+NSP batches with the real feature names, shapes and dtypes."""
    if input_context is not None:
        seed = seed * 1000 + input_context.input_pipeline_id
    seq, pred = cfg.data.seq_len, cfg.data.max_predictions_per_seq
    span = min(cfg.encoder.vocab_size - _FIRST_ID, 50)
    rng = np.random.default_rng(seed)
    n = batch_size * num_batches
    lengths = rng.integers(seq // 2, seq + 1, size=n)
    runs = rng.integers(2, 4, size=n)  # each token repeated 2 or 3 times: "a a a b b b ..."
    pos = np.arange(seq)
    values = rng.integers(0, span, size=(n, seq))
    ids = _FIRST_ID + np.take_along_axis(values, pos[None, :] // runs[:, None], axis=1)
    mask = (pos[None, :] < lengths[:, None]).astype(np.float32)
    ids = (ids * mask).astype(np.int32)
    type_ids = (pos[None, :] >= lengths[:, None] // 2).astype(np.int32) * mask.astype(np.int32)
    positions = np.zeros((n, pred), np.int32)
    for i in range(n):
        positions[i] = np.sort(rng.choice(np.arange(1, lengths[i]), size=pred, replace=False))
    labels = np.take_along_axis(ids, positions, axis=1)
    weights = np.ones((n, pred), np.float32)
    weights[:, pred - 2:] = 0.0  # some padded prediction slots, as real data has
    words = ids.copy()
    np.put_along_axis(words, positions, 4, axis=1)  # [MASK]
    nsp = (runs == 2).astype(np.int32)  # learnable from the sequence itself
    ds = tf.data.Dataset.from_tensor_slices({
        "input_word_ids": words, "input_mask": mask, "input_type_ids": type_ids,
        "masked_lm_positions": positions, "masked_lm_ids": labels, "masked_lm_weights": weights,
        "next_sentence_labels": nsp})
    if training:
        ds = ds.shuffle(n, seed=seed).repeat()
    return ds.batch(batch_size, drop_remainder=training).prefetch(2)


def dataset_arrays(dataset) -> tuple[dict, object]:
    """(features as numpy arrays [N, ...], labels [N] int32) of a finite, ordered dataset of
    (features, labels) batches. Model inputs get the model's dtypes (`encoders.INPUT_DTYPES`).

    The one way fine-tuning (soft labels, transfer set) and export (calibration and held-out
    rows) turn task batches into arrays, so both see the same rows, dtypes and labels.
    """
    feats, labels = {}, []
    for x, y in dataset.as_numpy_iterator():
        for name, value in x.items():
            feats.setdefault(name, []).append(value)
        labels.append(np.asarray(y).reshape(-1))
    features = {name: np.concatenate(parts).astype(INPUT_DTYPES.get(name, parts[0].dtype), copy=False)
                for name, parts in feats.items()}
    return features, (np.concatenate(labels) if labels else np.zeros(0)).astype(np.int32)


def classification_data(cfg: RunConfig, data: str | None, max_examples: int = 0):
    """(train examples, validation examples, label names) for the classification task.

    Returns a tokenize-and-batch function alongside: `make(examples, batch, training)` ->
    tf.data of (features, labels) padded to data.seq_len; with `by_length=True` (what
    fine-tuning passes for data.group_by_length) batches of similar lengths, trimmed.
    """
    spec = data or cfg.data.task_data
    if spec == SYNTHETIC:
        return _synthetic_classification(cfg)
    train, validation, labels = load_classification(spec, max_examples=max_examples)
    if not train:
        raise MbertError(f"the classification data {spec} has no training examples",
                         hint="point --data at a CSV/TSV with text and label columns")
    tokenizer = task_tokenizer(cfg)

    def make(examples, batch_size, training, seed=0, by_length=False):
        ds = classification_dataset(examples, tokenizer, cfg.data.seq_len, batch_size, training=training, seed=seed,
                                    by_length=by_length)
        return ds.repeat() if training else ds

    return train, validation, list(labels), make


def _synthetic_classification(cfg: RunConfig, n_train: int = 512, n_val: int = 128):
    """Label = whether the sequence is increasing by 1 (learnable, balanced)."""
    seq = cfg.data.seq_len
    span = min(cfg.encoder.vocab_size - _FIRST_ID, 200)

    def examples(n, seed):
        rng = np.random.default_rng(seed)
        out = []
        for i in range(n):
            label = i % 2
            step = 1 if label else int(rng.integers(2, 4))
            length = int(rng.integers(seq // 4, seq // 2))
            start = int(rng.integers(0, span))
            out.append(([_FIRST_ID + (start + step * k) % span for k in range(length)], label))
        return out

    def make(exs, batch_size, training, seed=0, by_length=False):  # same call as the real data
        ids = np.zeros((len(exs), seq), np.int32)
        mask = np.zeros((len(exs), seq), np.float32)
        for i, (toks, _) in enumerate(exs):
            ids[i, :len(toks)] = toks
            mask[i, :len(toks)] = 1
        labels = np.array([y for _, y in exs], np.int32)
        ds = tf.data.Dataset.from_tensor_slices(({"input_word_ids": ids, "input_mask": mask,
                                                  "input_type_ids": np.zeros_like(ids)}, labels))
        if training:
            ds = ds.shuffle(len(exs), seed=seed).repeat()
        return ds.batch(batch_size, drop_remainder=training)

    return examples(n_train, 1), examples(n_val, 2), ["negative", "positive"], make


def reuse_pretraining_data(source_run: Path, run: Path, source_cfg: RunConfig, cfg: RunConfig) -> bool:
    """Copies the teacher run's prepared data when it was made from the same data config.

    Saves re-tokenizing the corpus for the student (the same DataConfig and vocab give
    byte-identical files anyway). Copied to a temporary sibling and renamed, so a crash
    never leaves half a folder. Returns True when copied.
    """
    src, dst = pretrain_data_dir(source_run), pretrain_data_dir(run)
    if (dst / "meta.json").is_file() or not (src / "meta.json").is_file() or cfg.data.corpus == SYNTHETIC:
        return False
    if source_cfg.data != cfg.data or source_cfg.encoder.vocab_size != cfg.encoder.vocab_size:
        return False
    try:
        with atomic_dir(dst, "copy") as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
    except (OSError, MbertError):
        return False
    return True
