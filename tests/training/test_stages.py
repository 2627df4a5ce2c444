"""The student's stage schedule and layer map (no TensorFlow)."""

from __future__ import annotations

import pytest

from mbert_cli.config.training import DistillConfig
from mbert_cli.errors import MbertError
from mbert_cli.training.runner import phase_at
from mbert_cli.training.stages import build_schedule, default_layer_map, resolve_layer_map, schedule_record


def test_progressive_schedule_one_stage_per_layer_then_distill():
    stages = build_schedule(DistillConfig(steps_per_layer=10, pretrain_distill_steps=30), 3, [0, 1, 2])
    assert [(s.name, s.start, s.end, s.layer) for s in stages] == [
        ("layer_0", 0, 10, 0), ("layer_1", 10, 20, 1), ("layer_2", 20, 30, 2), ("distill", 30, 60, None)]
    assert phase_at(stages, 0) == 0 and phase_at(stages, 10) == 1 and phase_at(stages, 59) == 3
    assert phase_at(stages, 60) == 4
    rec = schedule_record("progressive", stages, 15, [0, 1, 2])
    assert rec["current_stage"] == "layer_1"
    assert [s["status"] for s in rec["stages"]] == ["done", "running", "pending", "pending"]


@pytest.mark.parametrize("strategy,names", [("joint", ["joint", "distill"]), ("auxiliary", ["auxiliary"])])
def test_joint_and_auxiliary_have_equal_total_steps(strategy, names):
    cfg = DistillConfig(strategy=strategy, steps_per_layer=10, pretrain_distill_steps=30)
    stages = build_schedule(cfg, 3, [0, 1, 2])
    assert [s.name for s in stages] == names
    assert stages[-1].end == 60


def test_layer_map_default_and_every_kth():
    assert default_layer_map(4, 4) == [0, 1, 2, 3]
    assert default_layer_map(2, 4) == [1, 3]
    with pytest.raises(MbertError, match="not a multiple"):
        default_layer_map(3, 4)
    assert resolve_layer_map(DistillConfig(layer_map=[0, 3]), 2, 4) == [0, 3]
    with pytest.raises(MbertError, match="layer_map"):
        resolve_layer_map(DistillConfig(layer_map=[0, 9]), 2, 4)


def test_unknown_strategy_is_one_error():
    with pytest.raises(MbertError, match="strategy"):
        build_schedule(DistillConfig(strategy="magic"), 2, [0, 1])


def test_a_teacher_kind_without_a_teacher_class_is_one_error():
    from mbert_cli.config import resolve_config
    from mbert_cli.training.teachers import TEACHERS, BertTeacher, MobileBertTeacher, teacher_class

    assert teacher_class(resolve_config("nano-teacher")) is MobileBertTeacher
    assert teacher_class(resolve_config("bert-base")) is BertTeacher
    other = resolve_config("bert-base")
    other.encoder.kind = "xlnet"  # a kind with no teacher class (config validation would refuse it earlier)
    with pytest.raises(MbertError, match="no distillation teacher of kind 'xlnet'") as err:
        teacher_class(other)
    assert all(kind in err.value.hint for kind in TEACHERS)


def test_a_student_deeper_than_its_teacher_repeats_teacher_layers():
    assert default_layer_map(12, 6) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert default_layer_map(8, 6) == [0, 1, 2, 2, 3, 4, 5, 5]  # proportional, last onto last
    assert default_layer_map(6, 6) == list(range(6))
