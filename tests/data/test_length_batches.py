"""Length-grouped task batches (data.group_by_length): same examples, same logits, less padding."""

import numpy as np
import pytest

from mbert_cli.config import get_preset
from mbert_cli.data import length_batches

SEQ = 32


def _features(lengths, seed=0):
    rng = np.random.default_rng(seed)
    n = len(lengths)
    ids = np.zeros((n, SEQ), np.int32)
    mask = np.zeros((n, SEQ), np.float32)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(5, 90, length)
        mask[i, :length] = 1.0
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros((n, SEQ), np.int32)}


def test_bucketed_batches_are_trimmed_and_same_bucket():
    import tensorflow as tf

    lengths = np.random.default_rng(1).integers(2, SEQ + 1, 200)
    features, labels = _features(lengths), np.arange(200, dtype=np.int32)
    ds = tf.data.Dataset.from_tensor_slices((features, labels)).shuffle(200, seed=3)
    seen = []
    for batch, ids in length_batches.bucketed_batches(ds, 8, SEQ, drop_remainder=True):
        batch_lengths = lengths[ids.numpy()]
        width = batch["input_word_ids"].shape[1]
        assert width == min(batch_lengths.max() + 1, SEQ)  # cut after the longest + one [PAD]
        assert all(v.shape == (8, width) for v in batch.values())
        buckets = (batch_lengths - 1) // length_batches.BUCKET_WIDTH  # boundaries 9, 17, 25, ...
        assert len(set(buckets.tolist())) == 1
        np.testing.assert_array_equal(batch["input_word_ids"].numpy(), features["input_word_ids"][ids.numpy(), :width])
        seen += ids.numpy().tolist()
    assert len(seen) == len(set(seen)) and 200 - len(seen) < 8 * (SEQ // length_batches.BUCKET_WIDTH + 1)


def test_sorted_batches_keep_every_example_once():
    lengths = np.array([5, 30, 2, 17, 9, 9, 24])
    features, labels = _features(lengths), np.arange(7, dtype=np.int32)
    batches = list(length_batches.sorted_batches((features, labels), 3))
    order = np.concatenate([y.numpy() for _, y in batches])
    np.testing.assert_array_equal(order, np.argsort(lengths, kind="stable"))
    assert [b["input_mask"].shape[1] for b, _ in batches] == [10, 25, 31]  # +1 [PAD]; sorted: 2 5 9 | 9 17 24 | 30


@pytest.mark.parametrize("preset", ["nano-student", "nano-teacher"])
def test_trimmed_batches_give_the_padded_logits(preset):
    """Padding is masked out of attention and pooling: predicting by length changes no output."""
    from mbert_cli.modeling.models import build_classifier

    cfg = get_preset(preset).encoder
    for pooling in ("cls", "mean"):
        cfg.classifier_pooling = pooling
        model, _ = build_classifier(cfg, num_classes=3, dropout=0.0)
        features = _features(np.random.default_rng(2).integers(2, SEQ + 1, 21))
        padded = model(features, training=False)["logits"].numpy()
        calls = []

        def predict(batch, model=model, calls=calls):
            calls.append(batch["input_mask"].shape)
            return model(batch, training=False)["logits"].numpy()

        by_length = length_batches.predict_by_length(predict, features, batch_size=8)
        np.testing.assert_allclose(by_length, padded, atol=1e-4)  # float rounding of other matmul shapes
        assert [c[0] for c in calls] == [8, 8, 5] and max(c[1] for c in calls) <= SEQ
        assert calls[0][1] < SEQ  # the shortest batch is cut


@pytest.mark.parametrize("multiple", [1, 16])
def test_a_grouped_epoch_has_a_bounded_number_of_shapes(multiple):
    """Widths rounded up to a multiple: at most ceil(seq / multiple) shapes per epoch, each still >= longest + 1."""
    import tensorflow as tf

    seq = 64
    lengths = np.random.default_rng(4).integers(2, seq + 1, 400)
    features = {"input_word_ids": np.zeros((400, seq), np.int32), "input_type_ids": np.zeros((400, seq), np.int32),
                "input_mask": (np.arange(seq)[None, :] < lengths[:, None]).astype(np.float32)}
    ds = tf.data.Dataset.from_tensor_slices((features, np.arange(400, dtype=np.int32))).shuffle(400, seed=5)
    widths = set()
    for batch, ids in length_batches.bucketed_batches(ds, 8, seq, drop_remainder=True, multiple=multiple):
        width = batch["input_mask"].shape[1]
        assert width % multiple == 0 or width == seq
        assert min(lengths[ids.numpy()].max() + 1, seq) <= width < lengths[ids.numpy()].max() + 1 + multiple
        widths.add(width)
    assert len(widths) <= -(-seq // multiple)
    if multiple > 1:
        assert widths <= {16, 32, 48, 64}
