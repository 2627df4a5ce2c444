"""Every config field's valid range lives in its dataclass and is checked when a config is resolved."""

import dataclasses

import pytest
import yaml

from mbert_cli.config import PRESETS, RunConfig, load_run_config, resolve_config, save_run_config
from mbert_cli.config.fields import Range, check_settings, describe_settings, field_range
from mbert_cli.errors import MbertError

# One case per class of nonsense: (override, the key and value the message must name, the range it must give).
INVALID = [
    ("train.steps=-5", "train.steps=-5", ">= 1"),
    ("train.steps=0", "train.steps=0", ">= 1"),
    ("train.batch_size=0", "train.batch_size=0", ">= 1"),
    ("distill.batch_size=-1", "distill.batch_size=-1", ">= 1"),
    ("finetune.batch_size=0", "finetune.batch_size=0", ">= 1"),
    ("train.optimizer.learning_rate=0", "train.optimizer.learning_rate=0.0", "> 0"),
    ("finetune.learning_rate=-1e-3", "finetune.learning_rate=-0.001", "> 0"),
    ("distill.optimizer.learning_rate=nan", "distill.optimizer.learning_rate=nan", "> 0"),
    ("train.optimizer.learning_rate=inf", "train.optimizer.learning_rate=inf", "> 0"),
    ("encoder.hidden_dropout=1.0", "encoder.hidden_dropout=1.0", "[0, 1)"),
    ("encoder.attention_dropout=-0.1", "encoder.attention_dropout=-0.1", "[0, 1)"),
    ("data.mask_prob=0", "data.mask_prob=0.0", "(0, 1)"),
    ("data.seq_len=4", "data.seq_len=4", ">= 8"),
    ("encoder.num_layers=0", "encoder.num_layers=0", ">= 1"),
    ("finetune.warmup_fraction=1", "finetune.warmup_fraction=1.0", "[0, 1)"),
    ("finetune.layer_lr_decay=0", "finetune.layer_lr_decay=0.0", "(0, 1]"),
    ("finetune.layer_lr_decay=1.5", "finetune.layer_lr_decay=1.5", "(0, 1]"),
    ("export.representative_examples=0", "export.representative_examples=0", ">= 1"),
    ("seed=-1", "seed=-1", ">= 0"),
    ("encoder.kind=gpt", "encoder.kind='gpt'", "mobilebert, bert"),
    ("distill.strategy=greedy", "distill.strategy='greedy'", "progressive, joint, auxiliary"),
    ("export.modes=none,int4", "export.modes='int4' in ['none', 'int4']", "none, dynamic, int8, float16"),
    ("distill.layer_map=[0,-1]", "distill.layer_map=-1 in [0, -1]", ">= 0"),
]


@pytest.mark.parametrize(("assignment", "named", "valid"), INVALID, ids=[c[0] for c in INVALID])
def test_each_invalid_class_is_one_line_naming_key_value_and_range(assignment, named, valid):
    with pytest.raises(MbertError) as err:
        resolve_config("nano-teacher", overrides=[assignment])
    assert err.value.message.startswith(f"{named} is invalid: valid ")
    assert err.value.message.endswith(valid) or f"{valid} (" in err.value.message
    assert "\n" not in err.value.message and err.value.hint


def test_seq_len_beyond_position_table_names_both_keys():
    with pytest.raises(MbertError) as err:
        resolve_config("nano-teacher", overrides=["data.seq_len=129"])  # nano position table: 128
    assert "data.seq_len=129" in err.value.message and "encoder.max_sequence_length" in err.value.message
    with pytest.raises(MbertError, match="export.seq_len=256 exceeds"):
        resolve_config("nano-student", overrides=["export.seq_len=256"])
    assert resolve_config("nano-teacher", overrides=["data.seq_len=128"]).data.seq_len == 128  # the edge is valid


def test_bounds_are_inclusive_or_exclusive_as_declared():
    assert resolve_config("nano-teacher", overrides=["encoder.hidden_dropout=0.0"]).encoder.hidden_dropout == 0.0
    assert resolve_config("nano-teacher", overrides=["encoder.hidden_dropout=0.999"]).encoder.hidden_dropout == 0.999
    assert resolve_config("nano-teacher", overrides=["distill.pretrain_distill_steps=0"]).distill.pretrain_distill_steps == 0
    r = Range(ge=0.0, lt=1.0)
    assert [r.accepts(v) for v in (-0.001, 0.0, 0.5, 1.0)] == [False, True, True, False]
    assert Range(gt=0).text() == "> 0" and Range(ge=1, note="0 = x").text() == ">= 1 (0 = x)"


def test_config_file_values_are_checked_too(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"train": {"batch_size": -2}}))
    with pytest.raises(MbertError, match=r"train.batch_size=-2 is invalid: valid range >= 1"):
        resolve_config("nano-teacher", config_file=path)


def test_saved_config_edited_out_of_range_is_refused(tmp_path):
    cfg = resolve_config("nano-student")
    cfg.train.steps = -3  # as if config.yaml were edited by hand
    save_run_config(cfg, tmp_path / "config.yaml")
    with pytest.raises(MbertError, match=r"train.steps=-3 is invalid"):
        load_run_config(tmp_path)


def test_every_preset_and_default_is_within_its_own_ranges():
    check_settings(RunConfig())
    for name in PRESETS:
        check_settings(resolve_config(name))


def test_every_numeric_or_choice_field_declares_a_range():
    # Strings that are paths or names (corpus, vocab, task_data, transfer_unlabelled, preset) and flags are free;
    # everything else is bounded.
    free = {"preset", "data.corpus", "data.vocab", "data.task_data", "finetune.transfer_unlabelled"}
    rows = describe_settings(RunConfig())
    unbounded = [r["key"] for r in rows if r["range"] == "any" and r["type"] != "bool" and r["key"] not in free]
    assert unbounded == []
    assert {r["key"] for r in rows} >= {"train.steps", "encoder.hidden_dropout", "export.modes"}


def test_ranges_live_in_the_dataclass_fields():
    from mbert_cli.config.training import TrainConfig

    steps = {f.name: f for f in dataclasses.fields(TrainConfig)}["steps"]
    assert field_range(steps) == Range(ge=1)


# --- export.seq_len: one length, a list, or dynamic (as `mbert export --seq-len` takes) ---------

@pytest.mark.parametrize(("assignment", "value"), [
    ("export.seq_len=64", 64),
    ("export.seq_len=32,64,128", [32, 64, 128]),
    ("export.seq_len=[16,32]", [16, 32]),
    ("export.seq_len=dynamic", "dynamic"),
])
def test_export_seq_len_takes_one_length_a_list_or_dynamic(assignment, value, tmp_path):
    cfg = resolve_config("nano-student", overrides=[assignment])
    assert cfg.export.seq_len == value
    save_run_config(cfg, tmp_path / "config.yaml")  # the YAML round trip keeps the form
    assert load_run_config(tmp_path / "config.yaml").export.seq_len == value


@pytest.mark.parametrize(("assignment", "why"), [
    ("export.seq_len=32,64,32", "(32 listed more than once)"),
    ("export.seq_len=0", ""),
    ("export.seq_len=32,0", "(0 is outside it)"),
    ("export.seq_len=fast", "('fast' is not a whole number or dynamic)"),
    ("export.seq_len=32,dynamic", "('32,dynamic' is not a whole number or dynamic)"),
    ("export.seq_len=[]", "(the list is empty)"),
])
def test_export_seq_len_bad_forms_are_one_line_naming_key_value_and_form(assignment, why):
    with pytest.raises(MbertError) as err:
        resolve_config("nano-student", overrides=[assignment])
    msg = err.value.message
    assert msg.startswith("export.seq_len=") and f"is invalid{' ' + why if why else ''}: valid range" in msg
    assert msg.endswith(">= 1, a list of distinct such values, or dynamic"), msg
    assert "\n" not in msg and err.value.hint


def test_export_seq_len_list_beyond_position_table_is_refused():
    with pytest.raises(MbertError, match=r"export.seq_len=\[32, 256\] exceeds the preset's maximum 128"):
        resolve_config("nano-student", overrides=["export.seq_len=32,256"])


def test_export_options_follow_the_config_seq_len():
    """No --seq-len: the config's list or `dynamic` decides the signatures; --seq-len wins over it."""
    from converters.export_run import options_from_config

    ec = resolve_config("nano-student", overrides=["export.seq_len=16,32"]).export
    opts = options_from_config(ec, max_len=128)
    assert opts.lengths.lengths == (16, 32) and opts.seq_len == 32
    assert options_from_config(ec, seq_len="64", max_len=128).lengths is None
    assert options_from_config(ec, seq_len="64", max_len=128).seq_len == 64
    dyn = options_from_config(resolve_config("nano-student", overrides=["export.seq_len=dynamic"]).export, max_len=128)
    assert dyn.lengths.dynamic and dyn.lengths.max_len == 128 and dyn.seq_len == 128
    single = options_from_config(resolve_config("nano-student").export, max_len=128)
    assert single.lengths is None and single.seq_len == 128
