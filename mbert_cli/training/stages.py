"""The student's stage schedule: which layer each stage trains and over which global steps.

progressive: one stage per student layer (`layer_<l>`), then `distill` (pre-training
    distillation); joint: one `joint` stage with every layer's transfer loss, then
    `distill`; auxiliary: one `auxiliary` stage, distillation + every layer's transfer loss.
All three use the same total number of steps (num_layers * steps_per_layer +
pretrain_distill_steps, unless joint_steps is set), so they compare at equal compute.
The schedule is written to `runs/NAME/student/schedule.json` with each stage's status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from mbert_cli.config.training import DistillConfig
from mbert_cli.errors import MbertError
from mbert_cli.training.run_dir import read_json

STRATEGIES = ("progressive", "joint", "auxiliary")


@dataclass(frozen=True)
class StageSpec:
    """Global steps [start, end) of one distillation stage."""

    name: str
    kind: str  # layer | joint | distill | auxiliary
    start: int
    end: int
    layer: int | None = None  # student layer trained (kind 'layer')
    teacher_layer: int | None = None  # the teacher layer it learns from

    @property
    def steps(self) -> int:
        return self.end - self.start


def default_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Student layer i learns from teacher layer i (equal depth) or every k-th layer (k = T/S).

    A student deeper than its teacher maps proportionally, each teacher layer taught to a
    run of consecutive student layers (a 6-layer teacher onto 12 student layers: 0,0,1,1,...,5,5).
    """
    if student_layers > teacher_layers:
        return [-(-(i + 1) * teacher_layers // student_layers) - 1 for i in range(student_layers)]
    if teacher_layers % student_layers:
        raise MbertError(f"the teacher has {teacher_layers} layers, not a multiple of the student's {student_layers}",
                         hint="give the mapping explicitly: --set distill.layer_map=[...] "
                              f"({student_layers} teacher layer indices)")
    k = teacher_layers // student_layers
    return [(i + 1) * k - 1 for i in range(student_layers)]


def resolve_layer_map(cfg: DistillConfig, student_layers: int, teacher_layers: int) -> list[int]:
    """The configured layer map, checked against both models, or the default."""
    if not cfg.layer_map:
        return default_layer_map(student_layers, teacher_layers)
    layer_map = [int(x) for x in cfg.layer_map]
    if len(layer_map) != student_layers or not all(0 <= t < teacher_layers for t in layer_map):
        raise MbertError(f"distill.layer_map {layer_map} must list {student_layers} teacher layers in 0..{teacher_layers - 1}",
                         hint="one teacher layer index per student layer, e.g. the last ones: [1, 3, 5, 7]")
    return layer_map


def build_schedule(cfg: DistillConfig, num_layers: int, layer_map: list[int]) -> list[StageSpec]:
    """The stages of `cfg.strategy` over consecutive global steps."""
    if cfg.strategy not in STRATEGIES:
        raise MbertError(f"unknown distillation strategy {cfg.strategy!r}", hint=f"choose one of: {', '.join(STRATEGIES)}")
    for name in ("steps_per_layer", "pretrain_distill_steps"):
        if getattr(cfg, name) < 0:
            raise MbertError(f"distill.{name} must not be negative", hint=f"--set distill.{name}=100")
    layer_steps = cfg.joint_steps or num_layers * cfg.steps_per_layer
    stages: list[StageSpec] = []
    step = 0

    def add(name, kind, steps, **kw):
        nonlocal step
        if steps > 0:
            stages.append(StageSpec(name, kind, step, step + steps, **kw))
            step += steps

    if cfg.strategy == "progressive":
        for layer in range(num_layers):
            add(f"layer_{layer}", "layer", cfg.steps_per_layer, layer=layer, teacher_layer=layer_map[layer])
        add("distill", "distill", cfg.pretrain_distill_steps)
    elif cfg.strategy == "joint":
        add("joint", "joint", layer_steps)
        add("distill", "distill", cfg.pretrain_distill_steps)
    else:
        add("auxiliary", "auxiliary", layer_steps + cfg.pretrain_distill_steps)
    if not stages:
        raise MbertError("the distillation schedule has no steps", hint="set distill.steps_per_layer or "
                         "distill.pretrain_distill_steps above 0")
    return stages


def schedule_record(strategy: str, stages: list[StageSpec], step: int, layer_map: list[int]) -> dict:
    """The JSON written to student/schedule.json: every stage with its status at `step`."""
    rows = []
    current = None
    for s in stages:
        status = "done" if step >= s.end else ("running" if step >= s.start else "pending")
        if status == "running" or (current is None and status == "pending"):
            current = current or s.name
        rows.append({**asdict(s), "steps": s.steps, "status": status})
    return {"strategy": strategy, "layer_map": layer_map, "step": step, "total_steps": stages[-1].end,
            "current_stage": current or "finished", "stages": rows}


def check_same_schedule(path: Path, stages: list[StageSpec], step: int) -> None:
    """A resumed run must keep the stages it has already trained (same names and step ranges)."""
    old = read_json(path)
    if not old:
        return
    done_old = [(r["name"], r["start"], r["end"]) for r in old.get("stages", []) if r["start"] < step]
    done_new = [(s.name, s.start, s.end) for s in stages if s.start < step]
    if done_old != done_new:
        raise MbertError(f"{path.parent} was distilled with another stage schedule ({old.get('strategy')}: "
                         f"{', '.join(n for n, _, _ in done_old)}) than this command gives",
                         hint="rerun with the same --strategy and distill.* steps, or use a new --run folder")
