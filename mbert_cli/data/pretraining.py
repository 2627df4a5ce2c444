"""MLM+NSP pre-training data: corpus -> TFRecord shards + meta.json, and the tf.data reader.

Layout of a prepared folder:
    train-00000-of-0000N.tfrecord ...   `data.num_shards` shards, examples dealt round-robin
    eval-00000-of-00001.tfrecord        examples of the held-out documents (`data.eval_fraction`)
    meta.json                           shapes, vocab (path, sha256, size), counts, seed
NSP label convention (BERT's): `next_sentence_labels` = 1 when segment B is a random
sentence run from another document, 0 when it is the true continuation.

Example generation is Python (as BERT's own); on 2 cores the whole shipped corpus at the
nano preset (seq 64) gives 41,662 examples (37,842 train / 3,820 eval, 15.6% of tokens
masked) in about 10 s of CPU time.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from mbert_cli.config import save_run_config
from mbert_cli.config.data import DataConfig
from mbert_cli.data.corpus import load_documents
from mbert_cli.data.mlm_nsp import Instance, SpecialIds, create_instances
from mbert_cli.data.tokenizer import WordPieceTokenizer
from mbert_cli.data.vocab import SPECIAL_TOKENS
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import atomic_dir

Progress = Callable[[str, int, int], None]  # (stage, done, total)
META = "meta.json"
FORMAT = "mbert-pretraining-v1"


@dataclass
class PretrainingStats:
    """What `prepare_pretraining_data` wrote; printed by `mbert data prepare`."""

    examples: int
    train_examples: int
    eval_examples: int
    tokens: int  # non-padding tokens of all examples, [CLS]/[SEP] included (BERT's denominator)
    masked_tokens: int
    masked_share: float
    shards: int
    vocab_size: int
    seq_len: int
    seconds: float
    documents: int = 0
    random_next_share: float = 0.0


def prepare_pretraining_data(data: DataConfig, vocab_path: str | Path, out_dir: str | Path, *,
                             progress: Progress | None = None,
                             run_config: Any = None) -> PretrainingStats:
    """Tokenizes `data.corpus`, makes MLM+NSP examples and writes them as TFRecords.

    Seeded by `data.seed`: the same config and vocab give byte-identical files. Everything
    is written into a temporary sibling folder that is renamed onto `out_dir` at the end,
    so an interrupted or failed run leaves nothing under `out_dir`.

    Args:
        data: corpus, seq_len, masking and sharding settings.
        vocab_path: a validated vocab file (see `resolve_vocab`).
        out_dir: the folder to create (replaced if it exists).
        progress: optional callback (stage, done, total).
        run_config: optional RunConfig saved as `config.yaml` inside the folder.

    Raises:
        MbertError: unreadable corpus, too few documents, or an unwritable `out_dir`.
    """
    start = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    if data.num_shards < 1:
        raise MbertError(f"data.num_shards must be at least 1, got {data.num_shards}", hint="use --set data.num_shards=2")
    if data.seq_len < 8:
        raise MbertError(f"data.seq_len {data.seq_len} is too short for sentence pairs", hint="use 32 or more")
    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    documents = load_documents(data.corpus, data.max_documents)
    if len(documents) < 2:
        raise MbertError(f"corpus {data.corpus} has {len(documents)} document(s); next-sentence prediction needs 2 or more",
                         hint="separate documents with a blank line, or raise --max-documents")
    tokenizer = WordPieceTokenizer(vocab_path)
    token_docs = _tokenize_documents(documents, tokenizer, report)
    train_docs, eval_docs = _split_documents(token_docs, data.eval_fraction, data.seed)

    specials = {tokenizer.vocab.index(t) for t in SPECIAL_TOKENS}
    ids = SpecialIds(cls=tokenizer.cls_id, sep=tokenizer.sep_id, mask=tokenizer.mask_id,
                     random_ids=[i for i in range(tokenizer.vocab_size)
                                 if i not in specials and not tokenizer.vocab[i].startswith("[unused")])
    rng = random.Random(data.seed)
    total_docs = len(train_docs) * data.dupe_factor + len(eval_docs)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if done[0] % 50 == 0 or done[0] == total_docs:
            report("examples", done[0], total_docs)

    common = dict(seq_len=data.seq_len, mask_prob=data.mask_prob, max_predictions=data.max_predictions_per_seq,
                  short_seq_prob=data.short_seq_prob, ids=ids, rng=rng, on_document=tick)
    train = create_instances(train_docs, dupe_factor=data.dupe_factor, **common)
    evals = create_instances(eval_docs, dupe_factor=1, **common) if eval_docs else []
    if not train:
        raise MbertError(f"corpus {data.corpus} gave no training examples",
                         hint="use a corpus with documents of two or more sentences")

    tokens = sum(len(x.tokens) for x in train + evals)
    masked = sum(len(x.masked_positions) for x in train + evals)
    vocab_bytes = Path(vocab_path).read_bytes()
    meta = {
        "format": FORMAT,
        "seq_len": data.seq_len,
        "max_predictions_per_seq": data.max_predictions_per_seq,
        "vocab": {"path": str(Path(vocab_path).resolve()), "sha256": hashlib.sha256(vocab_bytes).hexdigest(),
                  "size": tokenizer.vocab_size},
        "files": {"train": [_shard_name("train", k, data.num_shards) for k in range(data.num_shards)],
                  "eval": [_shard_name("eval", 0, 1)]},
        "counts": {"documents": len(documents), "train_documents": len(train_docs), "eval_documents": len(eval_docs),
                   "train_examples": len(train), "eval_examples": len(evals), "tokens": tokens,
                   "masked_tokens": masked},
        "corpus": data.corpus, "mask_prob": data.mask_prob, "dupe_factor": data.dupe_factor,
        "short_seq_prob": data.short_seq_prob, "seed": data.seed,
        "next_sentence_labels": "1 = segment B is random (from another document), 0 = true continuation",
    }
    with atomic_dir(out_dir, "prepare") as tmp:
        _write_records(tmp, "train", train, data.num_shards, data.seq_len, data.max_predictions_per_seq, report)
        _write_records(tmp, "eval", evals, 1, data.seq_len, data.max_predictions_per_seq, report)
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if run_config is not None:
            save_run_config(run_config, tmp / "config.yaml")
    return PretrainingStats(
        examples=len(train) + len(evals), train_examples=len(train), eval_examples=len(evals), tokens=tokens,
        masked_tokens=masked, masked_share=masked / max(tokens, 1), shards=data.num_shards,
        vocab_size=tokenizer.vocab_size, seq_len=data.seq_len, seconds=time.perf_counter() - start,
        documents=len(documents),
        random_next_share=sum(x.is_random_next for x in train + evals) / max(len(train) + len(evals), 1))


def check_output_dir(out_dir: Path) -> None:
    """Refuses to replace a folder that is not earlier prepared data (e.g. `--out ~`)."""
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / META).is_file())):
        raise MbertError(f"{out_dir} exists and is not a prepared data folder; refusing to replace it",
                         hint="choose a new or empty --out folder")


def read_meta(out_dir: str | Path) -> dict:
    """The meta.json of a prepared folder, or a clear error when there is none."""
    path = Path(out_dir) / META
    if not path.is_file():
        raise MbertError(f"no pre-training data in {out_dir} (meta.json missing)",
                         hint=f"run `mbert data prepare --out {out_dir}` first")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise MbertError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}",
                         hint="re-run `mbert data prepare` with this mbert version")
    return meta


def pretraining_dataset(out_dir: str | Path, split: str, batch_size: int, *, training: bool,
                        input_context: Any = None, seed: int = 0):
    """Reads prepared MLM+NSP examples as batched feature dicts.

    Features: input_word_ids int32 [B,S], input_mask float32 [B,S] (float so the exported
    model needs no Cast op), input_type_ids int32 [B,S], masked_lm_positions int32 [B,P],
    masked_lm_ids int32 [B,P], masked_lm_weights float32 [B,P], next_sentence_labels int32 [B]
    (1 = random next).

    Args:
        out_dir: a folder written by `prepare_pretraining_data`.
        split: 'train' or 'eval'.
        batch_size: the batch this pipeline emits (per worker/replica: with
            `tf.distribute`, pass `input_context.get_per_replica_batch_size(global)`).
        training: shuffle, repeat forever and drop the last partial batch.
        input_context: a `tf.distribute.InputContext`; each input pipeline then reads its
            own part: whole files when there are at least as many files as pipelines,
            else every n-th example.
        seed: shuffle seed.
    """
    if split not in ("train", "eval"):
        raise MbertError(f"unknown split {split!r}", hint="use 'train' or 'eval'")
    meta = read_meta(out_dir)
    files = [str(Path(out_dir) / f) for f in meta["files"][split]]
    seq_len, max_pred = meta["seq_len"], meta["max_predictions_per_seq"]
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    by_file = pipelines > 1 and len(files) >= pipelines

    ds = tf.data.Dataset.from_tensor_slices(files)
    if by_file:
        ds = ds.shard(pipelines, pipeline_id)
    if training:
        ds = ds.shuffle(len(files), seed=seed)
    # deterministic: a resumed run replays the same order (training.inputs.replay_position)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 4),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if pipelines > 1 and not by_file:
        ds = ds.shard(pipelines, pipeline_id)
    if training:
        ds = ds.shuffle(max(1024, batch_size * 16), seed=seed).repeat()
    spec = {
        "input_word_ids": tf.io.FixedLenFeature([seq_len], tf.int64),
        "input_mask": tf.io.FixedLenFeature([seq_len], tf.int64),
        "input_type_ids": tf.io.FixedLenFeature([seq_len], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_pred], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_pred], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_pred], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }

    def parse(records):
        parsed = tf.io.parse_example(records, spec)
        out = {k: tf.cast(v, tf.float32 if k in ("input_mask", "masked_lm_weights") else tf.int32)
               for k, v in parsed.items()}
        out["next_sentence_labels"] = tf.reshape(out["next_sentence_labels"], [-1])
        return out

    ds = ds.batch(batch_size, drop_remainder=training).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _tokenize_documents(documents: list[list[str]], tokenizer, report: Progress) -> list[list[list[int]]]:
    sentences = [s for doc in documents for s in doc]
    ids: list[list[int]] = []
    step = 16384
    for start in range(0, len(sentences), step):
        ids.extend(tokenizer.tokenize(sentences[start:start + step]))
        report("tokenize", min(start + step, len(sentences)), len(sentences))
    out, k = [], 0
    for doc in documents:
        out.append([s for s in ids[k:k + len(doc)] if s])  # a sentence of only whitespace/controls gives []
        k += len(doc)
    return out


def _split_documents(docs: list, eval_fraction: float, seed: int) -> tuple[list, list]:
    """Holds out whole documents for eval, so eval text never appears in training."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    n_eval = 0
    if eval_fraction > 0:
        n_eval = min(len(docs) - 1, max(1, round(len(docs) * eval_fraction)))
    held = set(order[:n_eval])
    return ([d for i, d in enumerate(docs) if i not in held], [d for i, d in enumerate(docs) if i in held])


def _shard_name(split: str, k: int, n: int) -> str:
    return f"{split}-{k:05d}-of-{n:05d}.tfrecord"


def _write_records(folder: Path, split: str, instances: list[Instance], shards: int, seq_len: int,
                   max_pred: int, report: Progress) -> None:
    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    writers = [tf.io.TFRecordWriter(str(folder / _shard_name(split, k, shards))) for k in range(shards)]
    try:
        for n, x in enumerate(instances):
            pad = seq_len - len(x.tokens)
            pred_pad = max_pred - len(x.masked_positions)
            features = {
                "input_word_ids": ints(x.tokens + [0] * pad),
                "input_mask": ints([1] * len(x.tokens) + [0] * pad),
                "input_type_ids": ints(x.segment_ids + [0] * pad),
                "masked_lm_positions": ints(x.masked_positions + [0] * pred_pad),
                "masked_lm_ids": ints(x.masked_labels + [0] * pred_pad),
                "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(
                    value=[1.0] * len(x.masked_positions) + [0.0] * pred_pad)),
                "next_sentence_labels": ints([int(x.is_random_next)]),
            }
            example = tf.train.Example(features=tf.train.Features(feature=features))
            writers[n % shards].write(example.SerializeToString())
            if (n + 1) % 2000 == 0 or n + 1 == len(instances):
                report(f"write {split}", n + 1, len(instances))
    finally:
        for w in writers:
            w.close()


