"""Mixed precision: when bfloat16 is chosen, the LayerNorm fix, and the whole chain under it (forced on CPU)."""

from __future__ import annotations

import math

import pytest
import tf_keras

from mbert_cli.modeling.pretrainer import build_pretrainer, model_inputs
from mbert_cli.training import precision, student, teacher, teachers
from mbert_cli.training.checkpoints import restore_for_inference
from mbert_cli.training.finetune import train_finetune
from mbert_cli.training.inputs import synthetic_pretraining
from mbert_cli.training.losses import pretraining_loss

from .conftest import tiny_config


@pytest.mark.parametrize(("requested", "fast", "expected"), [
    (True, True, precision.MIXED),
    (False, True, None),  # switched off in the config
    (True, False, None),  # CPU / pre-Ampere GPU
])
def test_policy_choice(requested, fast, expected):
    policy, line = precision.choose_policy(requested, fast_bfloat16=fast)
    assert policy == expected
    assert (line is not None) == (expected is not None)  # the user is told when bfloat16 is on


def test_policy_scope_restores_float32():
    with precision.precision_policy(precision.MIXED):
        assert tf_keras.mixed_precision.global_policy().name == precision.MIXED
    assert tf_keras.mixed_precision.global_policy().name == "float32"


def test_library_layernorm_mobilebert_fails_in_bfloat16_without_the_fix():
    """Why precision_policy patches the LayerNorm; when tf-models-official fixes it, this fails: drop the patch."""
    cfg = tiny_config("nano-teacher")
    tf_keras.mixed_precision.set_global_policy(precision.MIXED)
    try:
        with pytest.raises(TypeError, match="bfloat16"):
            build_pretrainer(cfg.encoder)
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("preset", ["nano-teacher", "nano-student", "nano-student-no-opt"])
def test_bfloat16_loss_is_close_to_float32(preset):
    """The same weights give nearly the same loss in bfloat16: a rounding, not a different model."""
    cfg = tiny_config(preset)
    full = build_pretrainer(cfg.encoder, name="a")
    with precision.precision_policy(precision.MIXED):
        half = build_pretrainer(cfg.encoder, name="b")
    assert half.encoder.compute_dtype == "bfloat16"
    assert [w.name.split("/", 1)[1] for w in half.model.weights] == [w.name.split("/", 1)[1] for w in full.model.weights]
    half.model.set_weights(full.model.get_weights())
    batch = next(iter(synthetic_pretraining(cfg, 8, training=False)))
    a = float(pretraining_loss(full.model(model_inputs(batch), training=False), batch)["loss"])
    b = float(pretraining_loss(half.model(model_inputs(batch), training=False), batch)["loss"])
    assert abs(a - b) < 0.02 * abs(a), (a, b)


def _spy_builds(monkeypatch, module, built=None):
    built = [] if built is None else built

    def spy(encoder_cfg, name="pretrainer", **kw):
        pm = build_pretrainer(encoder_cfg, name=name, **kw)
        built.append((name, pm.encoder.compute_dtype, {w.dtype.name for w in pm.model.weights}))
        return pm

    monkeypatch.setattr(module, "build_pretrainer", spy)
    return built


def test_chain_under_mixed_precision(tmp_path, monkeypatch):
    """Teacher and student in bfloat16 (the frozen teacher in float32), fine-tuning too, all finite."""
    monkeypatch.setattr(precision, "hardware_has_fast_bfloat16", lambda: True)
    said: list[str] = []
    t_built = _spy_builds(monkeypatch, teacher)
    s_built = _spy_builds(monkeypatch, student)
    _spy_builds(monkeypatch, teachers, s_built)
    t_cfg = tiny_config("nano-teacher", "train.steps=8")
    t_summary = teacher.train_teacher(tmp_path / "t", t_cfg, progress=False, say=said.append)
    assert t_built == [("pretrainer", "bfloat16", {"float32"})]
    assert math.isfinite(t_summary["eval"]["mlm_loss"])
    assert any(precision.MIXED in line for line in said)

    s_cfg = tiny_config("nano-student", "distill.steps_per_layer=2", "distill.pretrain_distill_steps=4")
    summary = student.train_student(tmp_path / "s", s_cfg, tmp_path / "t", progress=False, say=said.append)
    assert s_built == [("student", "bfloat16", {"float32"}), ("teacher", "float32", {"float32"})]
    assert math.isfinite(summary["eval"]["mlm_loss"])
    assert tf_keras.mixed_precision.global_policy().name == "float32"  # nothing left set process-wide

    ft = train_finetune(tmp_path / "s", s_cfg, tmp_path / "s" / "student", "classification", progress=False,
                        say=said.append)
    assert 0.0 <= ft["eval"]["accuracy"] <= 1.0
    # The checkpoints hold float32 variables: they restore into the float32 models export uses.
    for run, stage in ((tmp_path / "t", "teacher"), (tmp_path / "s", "finetune-classification")):
        _, model, _ = restore_for_inference(run, stage)
        assert {w.dtype.name for w in model.weights} == {"float32"}


@pytest.mark.parametrize(("flags", "expected"), [
    ("fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8", True),  # Sapphire Rapids
    ("fpu sse avx2 avx512f avx512_bf16 avx512_vnni", False),  # Zen 4: AVX-512 BF16, no AMX tiles
    ("fpu sse avx2 amx_bf16x", False),  # a whole flag, not a prefix
])
def test_cpu_amx_detection_reads_the_flags_line(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test amx_bf16 in the name\nflags\t\t: {flags}\n\n")
    assert precision.cpu_has_amx_bfloat16(str(cpuinfo)) is expected


def test_cpu_amx_detection_without_cpuinfo_is_false(tmp_path):
    assert precision.cpu_has_amx_bfloat16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, True),  # TensorFlow's default on x86 Linux
    ({"TF_ENABLE_ONEDNN_OPTS": "1"}, True),
    ({"TF_ENABLE_ONEDNN_OPTS": "0"}, False),
    ({"TF_ENABLE_ONEDNN_OPTS": "FALSE"}, False),  # lower-cased, as TensorFlow does
    ({"TF_ENABLE_ONEDNN_OPTS": " False "}, True),  # not stripped: TensorFlow keeps its default, on
    ({"TF_ENABLE_ONEDNN_OPTS": "no"}, True),  # unparseable: the default
    ({"TF_ENABLE_ONEDNN_OPTS": "true"}, True),
])
def test_onednn_switch_is_read_as_tensorflow_reads_it(environ, expected):
    assert precision.onednn_enabled(environ) is expected


def test_amx_cpu_with_onednn_off_stays_in_float32(monkeypatch):
    """Without oneDNN, bfloat16 is emulated (a nano teacher's step 9x slower): no AMX claim then."""
    monkeypatch.setattr(precision, "cpu_has_amx_bfloat16", lambda *_: True)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert precision.hardware_has_fast_bfloat16() is False
    assert precision.choose_policy(True) == (None, None)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    assert precision.hardware_has_fast_bfloat16() is True
