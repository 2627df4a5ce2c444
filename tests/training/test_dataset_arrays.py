"""Task batches -> numpy arrays: one helper, one behaviour, for fine-tuning and export alike."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mbert_cli.training.inputs import dataset_arrays

from .conftest import tiny_config


def test_rows_in_order_with_the_models_dtypes_and_int32_labels():
    ids = np.arange(10 * 4, dtype=np.int64).reshape(10, 4)
    features = {"input_word_ids": ids, "input_mask": np.ones((10, 4), np.float64),
                "input_type_ids": np.zeros((10, 4), np.int64), "extra": np.arange(10, dtype=np.int16)}
    labels = np.arange(10, dtype=np.int64) % 3
    ds = tf.data.Dataset.from_tensor_slices((features, labels)).batch(3)  # a short last batch
    got, got_labels = dataset_arrays(ds)
    np.testing.assert_array_equal(got["input_word_ids"], ids)
    np.testing.assert_array_equal(got_labels, labels)
    assert got["input_word_ids"].dtype == np.int32 and got["input_type_ids"].dtype == np.int32
    assert got["input_mask"].dtype == np.float32
    assert got["extra"].dtype == np.int16  # not a model input: kept as it is
    assert got_labels.dtype == np.int32


def test_export_rows_and_the_fine_tunes_rows_are_the_same_arrays():
    """The export's held-out rows are the validation rows as fine-tuning turns them into arrays."""
    from converters.data import for_run
    from mbert_cli.training.inputs import classification_data

    cfg = tiny_config("nano-student", "finetune.num_classes=2")
    data = for_run(cfg, "finetune-classification", cfg.data.seq_len, representative=8, heldout=8,
                   metric_examples=20)
    _, validation, _, make = classification_data(cfg, None)
    rows, labels = dataset_arrays(make(validation[:20], 64, False))
    assert data.labels.dtype == labels.dtype == np.int32
    np.testing.assert_array_equal(data.labels, labels)
    for name, value in data.heldout.items():
        np.testing.assert_array_equal(value, rows[name])
        assert value.dtype == rows[name].dtype
