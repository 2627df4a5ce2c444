"""Sentence classification loaders (GLUE layout, shipped reviews) and their tf.data batches."""

import pytest

from mbert_cli.data.classification import classification_dataset, load_classification
from mbert_cli.data.tokenizer import WordPieceTokenizer
from mbert_cli.data.vocab import NANO_VOCAB
from mbert_cli.errors import MbertError


def test_shipped_reviews_are_balanced_enough_and_clean():
    train, dev, names = load_classification("shipped")
    assert names == ["negative", "positive"]
    assert len(train) > 10_000 and len(dev) > 1_000
    for split in (train, dev):
        positive = sum(e.label for e in split) / len(split)
        assert 0.5 < positive < 0.65  # fresh 7,403 vs rotten 5,405 in the source
        assert all(e.text_a.strip() and e.text_b is None and e.label in (0, 1) for e in split)
    assert not {e.text_a for e in train} & {e.text_a for e in dev}  # no sentence in both splits
    again, _, _ = load_classification("shipped", max_examples=50)
    assert again == train[:50]


def test_glue_tsv_keeps_quotes_and_integer_labels(tmp_path):
    path = tmp_path / "sst.tsv"
    rows = ["sentence\tlabel"] + [f'a "quoted" line {i}\t{i % 2}' for i in range(20)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    train, dev, names = load_classification(str(path))
    assert names == ["0", "1"] and len(train) == 18 and len(dev) == 2
    assert {e.text_a for e in train + dev} == {f'a "quoted" line {i}' for i in range(20)}
    assert all(e.label == int(e.text_a.split()[-1]) % 2 for e in train + dev)


def test_pair_folder_with_named_labels(tmp_path):
    header = "sentence1,sentence2,label\n"
    (tmp_path / "train.csv").write_text(header + "a,b,yes\nc,d,no\n", encoding="utf-8")
    (tmp_path / "dev.csv").write_text(header + '"e, f",g,yes\n', encoding="utf-8")
    train, dev, names = load_classification(str(tmp_path))
    assert names == ["no", "yes"]
    assert [(e.text_a, e.text_b, e.label) for e in train] == [("a", "b", 1), ("c", "d", 0)]
    assert (dev[0].text_a, dev[0].label) == ("e, f", 1)


@pytest.mark.parametrize("content, message", [
    ("text\tsentiment\nhi\t1\n", "has header"),
    ("sentence\tlabel\nhi\t\n", "empty sentence or label"),
])
def test_bad_task_files(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MbertError, match=message):
        load_classification(str(path))


def test_batches_are_cls_text_sep_with_float_mask():
    tok = WordPieceTokenizer(NANO_VOCAB)
    train, _, _ = load_classification("shipped", max_examples=40)
    features, labels = next(iter(classification_dataset(train, tok, 32, 16, training=True, seed=3)))
    assert features["input_word_ids"].shape == (16, 32) and features["input_mask"].dtype.name == "float32"
    ids, mask = features["input_word_ids"].numpy(), features["input_mask"].numpy()
    assert (ids[:, 0] == tok.cls_id).all() and labels.dtype.name == "int32"
    for row, m in zip(ids, mask, strict=True):
        assert row[int(m.sum()) - 1] == tok.sep_id
    assert not features["input_type_ids"].numpy().any()
    batches = list(classification_dataset(train, tok, 32, 16, training=False))
    assert [len(b[1]) for b in batches] == [16, 16, 8]
