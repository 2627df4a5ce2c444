"""Sparse embedding gradients (`make_train_step(sparse_grads=True)`): the same training as dense ones."""

import numpy as np
import tensorflow as tf


def test_summed_slices_sum_repeated_rows_and_keep_the_dense_norm():
    from mbert_cli.training.loop import summed_slices

    values = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    grad = tf.IndexedSlices(values, tf.constant([4, 1, 4]), tf.constant([6, 2]))
    summed = summed_slices(grad)
    rows = dict(zip(summed.indices.numpy().tolist(), summed.values.numpy().tolist(), strict=True))
    assert rows == {4: [6.0, 8.0], 1: [3.0, 4.0]}
    # Dense rows (6, 8) and (3, 4): norm sqrt(100 + 25); the unsummed slices would give sqrt(1+4+9+16+25+36).
    assert np.isclose(float(tf.linalg.global_norm([summed])), np.sqrt(125.0))
    assert np.isclose(float(tf.linalg.global_norm([tf.convert_to_tensor(grad)])), np.sqrt(125.0))


def _trained_weights(sparse: bool, steps: int = 6) -> list[np.ndarray]:
    """A tiny BERT classifier after `steps` AdamW steps with tight clipping on batches that repeat tokens."""
    from mbert_cli.config import EncoderConfig
    from mbert_cli.config.training import OptimizerConfig
    from mbert_cli.modeling.encoders import build_encoder
    from mbert_cli.modeling.models import build_classifier
    from mbert_cli.modeling.pretrainer import MODEL_INPUTS, model_inputs
    from mbert_cli.training.distribute import make_distribution
    from mbert_cli.training.loop import make_train_step
    from mbert_cli.training.losses import classification_loss
    from mbert_cli.training.optim import build_optimizer

    tf.keras.utils.set_random_seed(7)
    enc = EncoderConfig(kind="bert", vocab_size=50, embedding_size=16, hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_sequence_length=16, normalization_type="layer_norm",
                        activation="gelu")
    model, _ = build_classifier(enc, num_classes=2, encoder=build_encoder(enc))
    rng = np.random.default_rng(0)
    n, seq = 32, 12
    ids = rng.integers(1, 8, size=(n, seq)).astype(np.int32)  # 7 tokens over 96 slots per batch: many repeats
    features = {"input_word_ids": ids, "input_mask": np.ones_like(ids), "input_type_ids": np.zeros_like(ids)}
    labels = (ids[:, 0] % 2).astype(np.int32)
    iterator = iter(tf.data.Dataset.from_tensor_slices((features, labels)).batch(8).repeat())

    def loss_fn(batch):
        logits = model(model_inputs(batch[0], MODEL_INPUTS), training=False)["logits"]
        ce, _acc = classification_loss(logits, batch[1])
        return {"loss": ce}

    opt = build_optimizer(OptimizerConfig(learning_rate=1e-2, weight_decay=0.01, clip_norm=0.05), steps, "adamw",
                          warmup_steps=0)
    step = make_train_step(make_distribution("default"), iterator, loss_fn, [(opt, model.trainable_variables)],
                           clip_norm=0.05, sparse_grads=sparse)
    for _ in range(steps):
        out = step()
    assert float(out["grad_norm"]) > 0.05  # clipping was active, so the norms had to agree
    return [w.numpy() for w in model.trainable_variables]


def test_sparse_and_dense_gradients_train_the_same_weights():
    dense, sparse = _trained_weights(False), _trained_weights(True)
    assert len(dense) == len(sparse)
    embedding_rows_moved = False
    for d, s in zip(dense, sparse, strict=True):
        np.testing.assert_allclose(s, d, rtol=1e-4, atol=1e-6)
        if d.shape == (50, 16):
            embedding_rows_moved = True
    assert embedding_rows_moved
