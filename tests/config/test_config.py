"""Presets, YAML files and --set overrides: strict, typed, round-trippable."""

import dataclasses

import pytest

from mbert_cli.config import PRESETS, get_preset, load_run_config, resolve_config, save_run_config
from mbert_cli.errors import MbertError


def test_preset_parameter_counts_match_tf_models_official_figures():
    # Figures from tf-models-official's own configs (see MOBILEBERT.md and the issue).
    assert get_preset("mobilebert").parameter_count() == 24_581_888
    assert get_preset("ib-bert-large").parameter_count() == 294_205_184
    assert get_preset("bert-base").parameter_count() == 109_482_240


def test_nano_presets_keep_teacher_student_relations():
    t, s = get_preset("nano-teacher").encoder, get_preset("nano-student").encoder
    assert (t.num_layers, t.hidden_size, t.embedding_size, t.vocab_size) == (
        s.num_layers, s.hidden_size, s.embedding_size, s.vocab_size)
    assert not t.is_opt and s.is_opt
    assert s.hidden_dropout == 0.0  # the paper's students use no hidden dropout


def test_overrides_are_typed():
    cfg = resolve_config("nano-student", overrides=["train.steps=7", "data.mask_prob=2e-1",
                                                    "encoder.classifier_activation=true",
                                                    "distill.layer_map=[0, 1, 2, 3]"])
    assert cfg.train.steps == 7 and isinstance(cfg.train.steps, int)
    assert cfg.data.mask_prob == pytest.approx(0.2)
    assert cfg.encoder.classifier_activation is True
    assert cfg.distill.layer_map == [0, 1, 2, 3]


@pytest.mark.parametrize("assignment, fragment", [
    ("train.stepz=1", "unknown config key 'train.stepz'"),
    ("trian.steps=1", "unknown config section 'trian'"),
    ("train.steps=abc", "expects int"),
    ("train.steps", "expects key=value"),
    ("encoder.normalization_type=batch_norm", "normalization_type"),
])
def test_bad_overrides_are_one_clear_error(assignment, fragment):
    with pytest.raises(MbertError) as err:
        resolve_config("nano-student", overrides=[assignment])
    assert fragment in err.value.message
    assert err.value.hint


def test_unknown_key_lists_valid_ones():
    with pytest.raises(MbertError) as err:
        resolve_config("nano-student", overrides=["train.stepz=1"])
    assert "steps" in err.value.hint and "batch_size" in err.value.hint


def test_seq_len_over_preset_maximum():
    with pytest.raises(MbertError) as err:
        resolve_config("nano-student", overrides=["data.seq_len=1000"])
    assert "exceeds the preset's maximum 128" in err.value.message


def test_unknown_preset_lists_names():
    with pytest.raises(MbertError) as err:
        get_preset("mobilebert-huge")
    assert "mobilebert-tiny" in err.value.hint


def test_yaml_file_and_round_trip(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("train:\n  steps: 11\n  optimizer:\n    learning_rate: 0.002\n")
    cfg = resolve_config("nano-teacher", yaml_file, ["train.batch_size=4"])
    assert (cfg.train.steps, cfg.train.optimizer.learning_rate, cfg.train.batch_size) == (11, 0.002, 4)
    save_run_config(cfg, tmp_path / "run" / "config.yaml")
    back = load_run_config(tmp_path / "run")
    assert dataclasses.asdict(back) == dataclasses.asdict(cfg)
    assert not list((tmp_path / "run").glob(".*tmp"))  # atomic write left no temp file


def test_yaml_with_unknown_key_is_rejected(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("train:\n  stpes: 11\n")
    with pytest.raises(MbertError) as err:
        resolve_config("nano-teacher", yaml_file)
    assert "train.stpes" in err.value.message


def test_every_preset_validates():
    for preset in PRESETS.values():
        preset.run_config().validate()


def test_preset_settings_are_defaults_that_set_and_saved_configs_override(tmp_path):
    # Nano presets carry their own fine-tuning rate and pre-training weight decay; the paper
    # presets keep the global (BERT) defaults.
    for name in ("nano-teacher", "nano-student"):
        nano = resolve_config(name)
        assert nano.finetune.learning_rate == pytest.approx(0.005)
        assert nano.train.optimizer.weight_decay == pytest.approx(0.1)
        assert nano.distill.optimizer.weight_decay == pytest.approx(0.1)
    paper = resolve_config("mobilebert")
    assert paper.finetune.learning_rate == pytest.approx(1e-3)
    assert paper.train.optimizer.weight_decay == paper.distill.optimizer.weight_decay == pytest.approx(0.01)
    cfg = resolve_config("nano-student", overrides=["finetune.learning_rate=0.002"])
    assert cfg.finetune.learning_rate == pytest.approx(0.002)
    save_run_config(cfg, tmp_path / "config.yaml")
    assert load_run_config(tmp_path).finetune.learning_rate == pytest.approx(0.002)


def test_classifier_pooling_is_checked():
    assert resolve_config("nano-student").encoder.classifier_pooling == "mean"
    assert resolve_config("mobilebert").encoder.classifier_pooling == "cls"
    with pytest.raises(MbertError, match=r"encoder.classifier_pooling=.max. is invalid: valid values: cls, mean"):
        resolve_config("nano-student", overrides=["encoder.classifier_pooling=max"])


def test_mlm_activation_defaults_to_gelu_and_is_checked(tmp_path):
    """Every preset (and a config.yaml written before the field existed) keeps the gelu MLM head
    its checkpoints were trained with; `mbert import` sets the source's hidden_act instead."""
    import yaml

    assert {name: get_preset(name).run_config().encoder.mlm_activation for name in PRESETS} == \
        {name: "gelu" for name in PRESETS}
    cfg = resolve_config("nano-student", overrides=["encoder.mlm_activation=relu"])
    assert cfg.encoder.mlm_activation == "relu"
    save_run_config(cfg, tmp_path / "config.yaml")
    old = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del old["encoder"]["mlm_activation"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    assert load_run_config(tmp_path).encoder.mlm_activation == "gelu"
    with pytest.raises(MbertError, match=r"encoder.mlm_activation=.tanh. is invalid: valid values: gelu, relu"):
        resolve_config("nano-student", overrides=["encoder.mlm_activation=tanh"])


def test_pretraining_weight_decay_reaches_lamb():
    from mbert_cli.training.optim import build_optimizer

    opt = build_optimizer(resolve_config("nano-teacher").train.optimizer, 100, "lamb")
    assert float(opt._get_hyper("weight_decay_rate")) == pytest.approx(0.1)
