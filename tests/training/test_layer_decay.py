"""Layer-wise learning-rate decay: which variables get which rate, and that AdamW applies it."""

import numpy as np
import pytest

from tests.training.conftest import tiny_config


def _classifier(preset: str):
    """A tiny MobileBERT ('nano-student') or BERT-kind ('bert': pooler present) classifier."""
    from mbert_cli.config import EncoderConfig
    from mbert_cli.modeling.encoders import build_encoder
    from mbert_cli.modeling.models import build_classifier

    if preset == "bert":
        enc = EncoderConfig(kind="bert", vocab_size=100, embedding_size=16, hidden_size=16, num_layers=2,
                            num_heads=2, intermediate_size=32, max_sequence_length=32,
                            normalization_type="layer_norm", activation="gelu", classifier_activation=True)
    else:
        enc = tiny_config(preset).encoder
    encoder = build_encoder(enc)
    model, _ = build_classifier(enc, num_classes=2, encoder=encoder)
    return enc, encoder, model


@pytest.mark.parametrize("preset", ["nano-student", "bert"])
def test_groups_cover_every_variable_once_at_its_depths_rate(preset):
    from mbert_cli.modeling.encoders import embedding_layer, transformer_layers
    from mbert_cli.training.layer_decay import layer_groups

    enc, encoder, model = _classifier(preset)
    groups = layer_groups(model, encoder, 0.5)
    seen = [v.ref() for g in groups for v in g.variables]
    assert len(seen) == len(set(seen)) == len(model.trainable_variables)
    scale = {v.ref(): g.scale for g in groups for v in g.variables}
    n = len(transformer_layers(encoder))
    assert n == enc.num_layers
    for i, layer in enumerate(transformer_layers(encoder)):
        assert {scale[v.ref()] for v in layer.trainable_variables} == {0.5 ** (n - i)}
    assert scale[encoder.get_embedding_table().ref()] == 0.5 ** (n + 1)
    assert {scale[v.ref()] for v in embedding_layer(encoder).trainable_variables} == {0.5 ** (n + 1)}
    pooler = {v.ref() for v in encoder.pooler_layer.trainable_variables} if encoder.pooler_layer else set()
    assert bool(pooler) == (preset == "bert")
    assert {scale[r] for r in pooler} <= {1.0}  # above the layers: the head's rate
    in_layers = {v.ref() for layer in transformer_layers(encoder) for v in layer.trainable_variables}
    below = [v for v in encoder.trainable_variables if v.ref() not in in_layers | pooler]
    # every embedding piece (word, position, type tables, their norm and projection) at the bottom rate
    assert len(below) >= 4 and {scale[v.ref()] for v in below} == {0.5 ** (n + 1)}
    head = [v for v in model.trainable_variables if v.ref() not in {w.ref() for w in encoder.trainable_variables}]
    assert head and {scale[v.ref()] for v in head} == {1.0}
    assert groups[0].name == "optimizer" and groups[0].scale == 1.0  # the head's group keeps the old key


def test_decay_one_is_the_single_optimizer_of_before():
    from mbert_cli.training.layer_decay import layer_groups

    _, encoder, model = _classifier("nano-student")
    (group,) = layer_groups(model, encoder, 1.0)
    assert group.name == "optimizer" and group.scale == 1.0
    assert [v.ref() for v in group.variables] == [v.ref() for v in model.trainable_variables]


def test_adamw_first_step_moves_each_depth_by_its_scaled_rate():
    """Adam's first update is lr * g / (|g| + eps), about lr for any gradient >> eps: so the
    largest change in a group is its rate, which must be the base rate times decay ** depth."""
    import tensorflow as tf

    from mbert_cli.config.training import OptimizerConfig
    from mbert_cli.training.layer_decay import layer_groups
    from mbert_cli.training.optim import build_optimizer

    _, encoder, model = _classifier("nano-student")
    ids = tf.constant(np.random.default_rng(0).integers(5, 50, size=(4, 8)), tf.int32)
    inputs = {"input_word_ids": ids, "input_mask": tf.ones_like(ids), "input_type_ids": tf.zeros_like(ids)}
    lr = 1e-3
    groups = layer_groups(model, encoder, 0.5)
    before = {v.ref(): v.numpy() for v in model.trainable_variables}
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(inputs, training=False)["logits"]))
    grads = dict(zip([v.ref() for v in model.trainable_variables],
                     tape.gradient(loss, model.trainable_variables), strict=True))
    for g in groups:
        opt = build_optimizer(OptimizerConfig(learning_rate=lr, weight_decay=0.0), 10, "adamw",
                              lr_scale=g.scale, warmup_steps=0)
        opt.apply_gradients([(grads[v.ref()], v) for v in g.variables])
        moved = max(float(np.max(np.abs(v.numpy() - before[v.ref()]))) for v in g.variables)
        assert moved == pytest.approx(lr * g.scale, rel=1e-2), g.name


def test_finetune_with_layer_decay_checkpoints_one_optimizer_per_depth(tmp_path, quiet):
    import tensorflow as tf

    from mbert_cli.training.finetune import train_finetune

    cfg = tiny_config("nano-student", "finetune.steps=4", "finetune.layer_lr_decay=0.8")
    summary = train_finetune(tmp_path / "run", cfg, None, "classification", progress=False, say=quiet)
    assert summary["steps"] == 4
    ckpt = tf.train.latest_checkpoint(str(tmp_path / "run" / "finetune-classification" / "checkpoints"))
    names = {name.split("/")[0] for name, _ in tf.train.list_variables(ckpt)}
    depths = cfg.encoder.num_layers + 1  # the embeddings and each layer, beside the head's 'optimizer'
    assert {f"optimizer_depth{d}" for d in range(depths)} <= names and "optimizer" in names
    from mbert_cli.config import load_run_config

    assert load_run_config(tmp_path / "run").finetune.layer_lr_decay == 0.8


def test_resume_with_another_decay_is_refused_before_anything_is_written(tmp_path, quiet):
    from mbert_cli.config import load_run_config
    from mbert_cli.errors import MbertError
    from mbert_cli.training.finetune import train_finetune

    run = tmp_path / "run"
    train_finetune(run, tiny_config("nano-student", "finetune.steps=4", "finetune.layer_lr_decay=0.8"), None,
                   "classification", progress=False, say=quiet)
    config_before = (run / "config.yaml").read_bytes()
    with pytest.raises(MbertError, match=r"layer_lr_decay=0\.8, not 1") as err:
        train_finetune(run, tiny_config("nano-student", "finetune.steps=8"), None, "classification",
                       progress=False, say=quiet)
    assert "--set finetune.layer_lr_decay=0.8" in err.value.hint
    assert (run / "config.yaml").read_bytes() == config_before
    summary = train_finetune(run, tiny_config("nano-student", "finetune.steps=8", "finetune.layer_lr_decay=0.8"),
                             None, "classification", progress=False, say=quiet)
    assert summary["resumed_from"] == 4 and summary["steps"] == 8
    assert load_run_config(run).finetune.layer_lr_decay == 0.8
