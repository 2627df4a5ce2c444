"""Encoders and heads on tf-models-official: parameter counts, shapes, attention masks."""

import numpy as np
import pytest

from mbert_cli.config import get_preset


@pytest.mark.parametrize("name, expected", [
    ("mobilebert", 24_581_888),       # tf-models-official MobileBERTEncoder() defaults
    ("ib-bert-large", 294_205_184),   # teacher: bottleneck 1024, FFN 4096 x 1, LayerNorm/GELU
    ("bert-base", 109_482_240),       # BertEncoderV2 with pooler, type vocab 2
    ("nano-teacher", None), ("nano-student", None), ("mobilebert-tiny", None),
    ("minilm-student", 7_327_104),    # 3.1x fewer than the imported MiniLM teacher's 22,713,216
])
def test_built_encoder_parameter_count(name, expected):
    from mbert_cli.modeling.encoders import build_encoder

    preset = get_preset(name)
    encoder = build_encoder(preset.encoder)
    built = encoder.count_params()
    assert built == preset.parameter_count()  # the TF-free formula used by `mbert presets`
    if expected is not None:
        assert built == expected


@pytest.mark.parametrize("name", ["minilm-student", "nano-student", "bert-base", "mobilebert"])
def test_encoder_flops_count_every_built_kernel_once_per_token(name):
    """`mbert presets`' FLOPs: the dense part equals 2 x tokens x the built model's kernel sizes
    (the pooler, applied to one token, left out); the attention part is 2 x 2 seq^2 x width per layer."""
    from mbert_cli.config.param_count import encoder_flops
    from mbert_cli.modeling.encoders import build_encoder

    cfg = get_preset(name).encoder
    encoder = build_encoder(cfg)
    kernels = sum(int(np.prod(w.shape)) for w in encoder.weights if "kernel" in w.name and "pooler" not in w.name)
    seq = 64
    width = cfg.hidden_size if cfg.kind == "bert" else cfg.intra_bottleneck_size
    attention = 2 * cfg.num_layers * 2 * seq * seq * width
    assert encoder_flops(cfg, seq) == 2 * seq * kernels + attention


def test_minilm_student_is_well_below_the_minilm_teacher():
    from mbert_cli.config.encoder import EncoderConfig
    from mbert_cli.config.param_count import encoder_flops, encoder_parameter_count

    # all-MiniLM-L6-v2 as `mbert import minilm` builds it (importing/configs.py from its config.json)
    teacher = EncoderConfig(kind="bert", embedding_size=384, hidden_size=384, num_layers=6, num_heads=12,
                            intermediate_size=1536, num_feedforward_networks=1, intra_bottleneck_size=384,
                            key_query_shared_bottleneck=False, normalization_type="layer_norm", activation="gelu")
    student = get_preset("minilm-student").encoder
    assert encoder_parameter_count(teacher) == 22_713_216
    assert encoder_parameter_count(teacher) / encoder_parameter_count(student) > 3.0
    assert encoder_flops(teacher, 128) / encoder_flops(student, 128) > 3.0


def _inputs(batch=2, seq=12, real=8, vocab=100):
    rng = np.random.default_rng(0)
    mask = np.zeros((batch, seq), np.float32)
    mask[:, :real] = 1.0
    return {
        "input_word_ids": rng.integers(5, vocab, (batch, seq)).astype(np.int32),
        "input_mask": mask,
        "input_type_ids": np.zeros((batch, seq), np.int32),
    }


@pytest.mark.parametrize("name", ["nano-teacher", "nano-student"])
def test_pretraining_outputs_and_attention_probabilities(name):
    from mbert_cli.modeling.models import build_pretraining_model

    cfg = get_preset(name).encoder
    pm = build_pretraining_model(cfg)
    inputs = _inputs()
    inputs["masked_lm_positions"] = np.array([[1, 2, 3], [0, 4, 5]], np.int32)
    out = pm.model(inputs, training=False)
    assert out["mlm_logits"].shape == (2, 3, cfg.vocab_size)
    assert out["next_sentence"].shape == (2, 2)
    assert len(out["encoder_outputs"]) == cfg.num_layers + 1
    assert len(out["attention_scores"]) == cfg.num_layers
    for probs in out["attention_scores"]:
        probs = probs.numpy()
        assert probs.shape == (2, cfg.num_heads, 12, 12)
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)  # distributions over keys
        assert probs[..., 8:].max() < 1e-6  # padded keys get no attention


def test_teacher_and_student_differ_only_by_config():
    from mbert_cli.modeling.encoders import build_encoder, transformer_layers

    t = build_encoder(get_preset("nano-teacher").encoder)
    s = build_encoder(get_preset("nano-student").encoder)
    assert type(t) is type(s)
    assert [layer.name for layer in transformer_layers(t)] == [layer.name for layer in transformer_layers(s)]
    assert transformer_layers(s)[0].name == "transformer_layer_0"


def test_encoder_config_round_trip():
    from mbert_cli.modeling.encoders import build_encoder

    encoder = build_encoder(get_preset("nano-student").encoder)
    clone = type(encoder).from_config(encoder.get_config())
    assert clone.count_params() == encoder.count_params()
    assert clone.get_config()["normalization_type"] == "no_norm"


def test_task_heads_shapes():
    from mbert_cli.modeling.models import build_classifier, build_span_labeler

    cfg = get_preset("nano-student").encoder
    clf, _ = build_classifier(cfg, num_classes=3)
    assert clf(_inputs())["logits"].shape == (2, 3)
    span, _ = build_span_labeler(cfg)
    out = span(_inputs())
    assert out["start_logits"].shape == (2, 12) and out["end_logits"].shape == (2, 12)


def test_bert_baseline_exposes_attention():
    from mbert_cli.config import EncoderConfig
    from mbert_cli.modeling.encoders import build_encoder

    tiny_bert = EncoderConfig(kind="bert", vocab_size=100, embedding_size=16, hidden_size=16, num_layers=2,
                              num_heads=2, intermediate_size=32, max_sequence_length=32,
                              normalization_type="layer_norm", activation="gelu")
    out = build_encoder(tiny_bert)(_inputs())
    assert len(out["attention_scores"]) == 2
    assert out["attention_scores"][0].numpy()[..., 8:].max() < 1e-6


def test_masked_mean_pooling_matches_numpy_and_ignores_padding():
    from mbert_cli.modeling.pooling import MaskedMeanPooling

    rng = np.random.default_rng(0)
    seq = rng.normal(size=(3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], np.float32)
    got = MaskedMeanPooling()(seq, mask).numpy()
    np.testing.assert_allclose(got[0], seq[0, :3].mean(0), rtol=1e-6)
    np.testing.assert_allclose(got[1], seq[1].mean(0), rtol=1e-6)
    np.testing.assert_array_equal(got[2], np.zeros(4, np.float32))  # no real token: zeros, not NaN
    seq2 = seq.copy()
    seq2[0, 3:] = 1e6  # padded positions must not move the result
    np.testing.assert_allclose(MaskedMeanPooling()(seq2, mask).numpy()[0], got[0], rtol=1e-6)


def test_mean_pooled_classifier_reads_the_masked_mean_of_the_encoder_output():
    import dataclasses

    from mbert_cli.modeling.models import CLASSIFIER_HEAD, build_classifier

    cfg = dataclasses.replace(get_preset("nano-student").encoder, classifier_pooling="mean")
    clf, encoder = build_classifier(cfg, num_classes=2, dropout=0.0)
    inputs = _inputs()
    seq = encoder(inputs)["sequence_output"].numpy()
    mask = inputs["input_mask"]
    mean = (seq * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    dense = clf.get_layer(CLASSIFIER_HEAD)
    kernel, bias = [w.numpy() for w in dense.weights]
    np.testing.assert_allclose(clf(inputs)["logits"].numpy(), mean @ kernel + bias, rtol=1e-4, atol=1e-5)
