"""Task distillation's transfer set: masked copies and unlabelled sentences the teacher labels alone."""

from __future__ import annotations

import numpy as np
import pytest

from mbert_cli.data import transfer_set as ts
from mbert_cli.errors import MbertError
from tests.training.conftest import tiny_config


def test_masked_copies_mask_only_word_pieces():
    ids = np.array([[2, 10, 11, 12, 3, 0], [2, 20, 3, 0, 0, 0]], np.int32)  # [CLS] ... [SEP] pad
    mask = (ids > 0).astype(np.float32)
    features = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(ids)}
    every = ts.masked_copies(features, 2, mask_id=4, seed=0, rate=1.0)
    expected = np.array([[2, 4, 4, 4, 3, 0], [2, 4, 3, 0, 0, 0]] * 2, np.int32)
    np.testing.assert_array_equal(every["input_word_ids"], expected)
    np.testing.assert_array_equal(every["input_mask"], np.concatenate([mask, mask]))
    none = ts.masked_copies(features, 1, mask_id=4, seed=0, rate=0.0)
    np.testing.assert_array_equal(none["input_word_ids"], ids)
    some = ts.masked_copies({k: np.repeat(v[:1], 500, 0) for k, v in features.items()}, 1, mask_id=4, seed=1)
    assert 0.07 < (some["input_word_ids"][:, 1:4] == 4).mean() < 0.13  # MASK_RATE of the word pieces


def test_plot_sentences_are_in_domain_and_never_validation():
    from mbert_cli.data.classification import shipped_split

    plots = ts.unlabelled_sentences(ts.PLOTS)
    _, validation = shipped_split()
    assert len(plots) > 5000 and not set(plots) & {e.text_a for e in validation}


def test_unlabelled_file_errors_name_the_fix(tmp_path):
    with pytest.raises(MbertError, match="unlabelled sentences not found"):
        ts.unlabelled_sentences(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(MbertError, match="holds no sentences"):
        ts.unlabelled_sentences(str(tmp_path / "empty.txt"))
    (tmp_path / "two.txt").write_text("a fine film\n\nso dull\n")
    assert ts.unlabelled_sentences(str(tmp_path / "two.txt")) == ["a fine film", "so dull"]


def test_transfer_rows_get_soft_labels_and_no_cross_entropy(tmp_path):
    """The teacher labels the extra rows (cached with the rest); the CE and accuracy skip them."""
    from mbert_cli.training.finetune import train_finetune
    from mbert_cli.training.inputs import classification_data

    teacher = tmp_path / "teacher"
    train_finetune(teacher, tiny_config("nano-student", "finetune.steps=4"), None, progress=False,
                   say=lambda *_: None)
    (tmp_path / "extra.txt").write_text("\n".join(f"sentence {i}" for i in range(40)))
    cfg = tiny_config("nano-student", "finetune.steps=4", "finetune.transfer_masked_copies=2",
                      "data.task_data=shipped", "finetune.max_examples=64",
                      f"finetune.transfer_unlabelled={tmp_path / 'extra.txt'}")
    said = []
    train_finetune(tmp_path / "kd", cfg, None, distill_from=teacher, progress=False, say=said.append)
    train, _, _, _ = classification_data(cfg, None, cfg.finetune.max_examples)
    n = len(train)
    assert any(f"Transfer set: {n} labelled sentences + {2 * n + 40} the teacher labels alone" in str(s)
               for s in said)
    cached = np.load(tmp_path / "kd" / "finetune-classification" / "soft_labels.npz")["logits"]
    assert cached.shape == (3 * n + 40, 2)


def test_unlabelled_rows_leave_the_cross_entropy_alone():
    """The masked CE of the fine-tune loss, against numpy: rows labelled -1 count for nothing."""
    import tensorflow as tf

    from mbert_cli.training.losses import classification_loss

    logits = np.array([[2.0, 0.0], [0.0, 1.0], [5.0, -5.0], [0.3, 0.1]], np.float32)
    y = np.array([0, 0, ts.UNLABELLED, 1], np.int32)
    ce, acc = classification_loss(tf.constant(logits), tf.constant(y))
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    by_hand = -(log_softmax[0, 0] + log_softmax[1, 0] + log_softmax[3, 1]) / 3
    np.testing.assert_allclose(ce.numpy(), by_hand, rtol=1e-6)
    assert acc.numpy() == pytest.approx(1 / 3)  # row 0 right, rows 1 and 3 wrong, row 2 not counted
