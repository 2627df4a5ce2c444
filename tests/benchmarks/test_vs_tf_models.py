"""benchmarks/vs_tf_models.py compares like with like: same inputs, same weights, same step-0 loss."""

from __future__ import annotations

import math

import pytest

from benchmarks import vs_tf_models as vs


def tiny_encoder():
    """A 2-layer BERT of width 32 over the shipped vocabulary; relu, as tf-models' "gelu" is the tanh form;
    wide initial weights, so an uncopied weight would move the loss far from ln 2."""
    from mbert_cli.config.encoder import EncoderConfig

    return EncoderConfig(kind="bert", vocab_size=30522, embedding_size=32, hidden_size=32, num_layers=2, num_heads=2,
                         intermediate_size=64, activation="relu", hidden_dropout=0.1, attention_dropout=0.1,
                         max_sequence_length=64, classifier_pooling="cls", initializer_range=1.0)


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    config = vs.VsConfig(data="shipped", max_examples=64, batch_size=4, seq_len=32, batches=3, rounds=1, steps=2, warmup=1,
                         no_dropout=True)
    return config, vs.build_sides(config, tiny_encoder(), None, tmp_path_factory.mktemp("vs"))


def test_both_paths_read_the_same_batches(sides):
    import numpy as np

    config, built = sides
    mbert = list(built.mbert_inputs.take(config.batches + 1))  # one past the end: both cycle alike
    tfm = list(built.tfm_inputs.take(config.batches + 1))
    widths = set()
    for (features, labels), other in zip(mbert, tfm, strict=True):
        assert set(other) == set(features) | {"label_ids"}
        for name, value in features.items():
            np.testing.assert_array_equal(value.numpy(), other[name].numpy())
        np.testing.assert_array_equal(labels.numpy(), other["label_ids"].numpy())
        widths.add(int(features["input_word_ids"].shape[1]))
        assert features["input_word_ids"].shape[0] == config.batch_size
    assert max(widths) <= config.seq_len  # cut to the batch's longest sentence, never past seq_len


def test_same_weights_give_the_same_step0_loss_then_both_train(sides):
    import numpy as np

    config, built = sides
    batch = next(iter(built.mbert_inputs))[0]
    np.testing.assert_allclose(built.mbert_model(batch, training=False)["logits"].numpy(),
                               built.tfm_model(batch, training=False).numpy(), rtol=1e-5, atol=1e-6)
    result = vs.time_rounds(built, config)
    first = result["step0_loss"]
    assert math.isfinite(first["mbert"]) and math.isfinite(first["tf-models"])
    assert first["mbert"] == pytest.approx(first["tf-models"], rel=1e-5)
    assert len(result["ratios"]) == config.rounds and all(r > 0 for r in result["ratios"])
    assert all(math.isfinite(x) for side in result["last_losses"].values() for x in side)


def test_table_lists_every_round_and_the_medians():
    result = {"mbert_s": [0.2, 0.4], "tfm_s": [0.25, 0.5], "ratios": [0.8, 0.8], "median_mbert_s": 0.3,
              "median_tfm_s": 0.375, "median_ratio": 0.8}
    lines = vs.table(result).splitlines()
    assert len(lines) == 2 + 2 + 1
    assert lines[-1].startswith("| median |") and "0.800" in lines[-1]


def test_embedding_update_times_both_paths():
    result = vs.embedding_update(rows=50, width=8, tokens=12, rounds=2, steps=1)
    assert result["median_dense_s"] > 0 and result["median_sparse_s"] > 0 and result["median_ratio"] > 0
