"""MLM+NSP TFRecords: masking statistics, NSP balance, sharded reads, reproducibility, atomicity."""

from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from mbert_cli.config.data import DataConfig
from mbert_cli.data import pretraining
from mbert_cli.data.pretraining import prepare_pretraining_data, pretraining_dataset, read_meta
from mbert_cli.data.vocab import NANO_VOCAB
from mbert_cli.errors import MbertError

CONFIG = DataConfig(seq_len=64, max_predictions_per_seq=10, max_documents=120, num_shards=2,
                    eval_fraction=0.2, seed=7)
MASK, CLS, SEP = 4, 2, 3


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain") / "data"
    return out, prepare_pretraining_data(CONFIG, NANO_VOCAB, out)


def read_all(out, split, context=None):
    batches = list(pretraining_dataset(out, split, 64, training=False, input_context=context).as_numpy_iterator())
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def rows(features):
    return Counter(tuple(np.concatenate([features["input_word_ids"][i], features["masked_lm_ids"][i]]).tolist())
                   for i in range(len(features["input_word_ids"])))


def test_masking_statistics_follow_bert(prepared):
    out, stats = prepared
    f = read_all(out, "train")
    real = f["masked_lm_weights"] > 0
    share = real.sum() / f["input_mask"].sum()
    assert abs(share - 0.15) < 0.015, share
    assert stats.masked_share == pytest.approx(share, abs=0.01)
    at = np.take_along_axis(f["input_word_ids"], f["masked_lm_positions"], axis=1)[real]
    original = f["masked_lm_ids"][real]
    n = real.sum()
    as_mask, kept = (at == MASK).sum() / n, (at == original).sum() / n
    assert abs(as_mask - 0.8) < 0.02 and abs(kept - 0.1) < 0.015 and abs(1 - as_mask - kept - 0.1) < 0.015
    assert not np.isin(original, [0, CLS, SEP, MASK]).any()  # never predicts specials or padding
    assert (f["masked_lm_positions"][real] > 0).all()  # position 0 is [CLS]


def test_examples_are_cls_a_sep_b_sep_and_nsp_is_balanced(prepared):
    out, _ = prepared
    f = read_all(out, "train")
    assert abs(f["next_sentence_labels"].mean() - 0.5) < 0.05
    for ids, mask, types in list(zip(f["input_word_ids"], f["input_mask"], f["input_type_ids"], strict=True))[:200]:
        length = int(mask.sum())
        assert mask[:length].all() and not mask[length:].any() and not ids[length:].any()
        sep = np.flatnonzero(ids[:length] == SEP)
        assert ids[0] == CLS and len(sep) == 2 and sep[1] == length - 1
        assert (types[:sep[0] + 1] == 0).all() and (types[sep[0] + 1:length] == 1).all()


@pytest.mark.parametrize("split", ["train", "eval"])  # train: 2 files split by file; eval: 1 file split by example
def test_two_workers_read_every_example_exactly_once(prepared, split):
    out, stats = prepared
    full = rows(read_all(out, split))
    assert sum(full.values()) == (stats.train_examples if split == "train" else stats.eval_examples)
    parts = [rows(read_all(out, split, tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i)))
             for i in range(2)]
    assert all(parts) and parts[0] + parts[1] == full


def test_training_stream_shapes_and_dtypes(prepared):
    out, _ = prepared
    batch = next(iter(pretraining_dataset(out, "train", 8, training=True, seed=1)))
    assert batch["input_word_ids"].shape == (8, 64) and batch["input_word_ids"].dtype == tf.int32
    assert batch["input_mask"].dtype == tf.float32 and batch["masked_lm_weights"].shape == (8, 10)
    assert batch["next_sentence_labels"].shape == (8,) and batch["next_sentence_labels"].dtype == tf.int32


def test_meta_and_reproducibility(prepared, tmp_path):
    out, stats = prepared
    meta = read_meta(out)
    assert meta["counts"]["train_examples"] == stats.train_examples and meta["vocab"]["size"] == 4096
    assert len(meta["vocab"]["sha256"]) == 64 and meta["seed"] == 7
    again = tmp_path / "again"
    prepare_pretraining_data(CONFIG, NANO_VOCAB, again)
    for name in meta["files"]["train"] + meta["files"]["eval"]:
        assert (again / name).read_bytes() == (out / name).read_bytes()


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pretraining, "_write_records", fail)
    with pytest.raises(KeyboardInterrupt):
        prepare_pretraining_data(DataConfig(max_documents=10, seq_len=64), NANO_VOCAB, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_replace_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(MbertError, match="refusing to replace"):
        prepare_pretraining_data(DataConfig(max_documents=10), NANO_VOCAB, tmp_path)
    assert (tmp_path / "notes.txt").exists()
