"""The demo chain as data: each stage is the same library call as its own `mbert` command.

`Demo.stages()` is the recipe: ten `Stage` records, each naming the stages it reads, the
settings that salt its hash, the artifact it leaves and its action (`actions.py`); the
runner (`stages.run_stages`) skips the stages already done. The recipes themselves (which
teacher, which student, their overrides) are in `recipes.py`.

Layout under the demo root (default runs/demo):
  teacher/   the teacher run: teacher/ (imported or pre-trained), finetune-classification/, export/
  student/   the student run: student/ (distillation), finetune-classification/, export/
  scratch/   the same student fine-tuned from random weights: the baseline distillation must beat
  bench/     host and loopback-device results (JSON)
  baseline.json (TF-IDF + LinearSVC on the same split), summary.json, summary.png, demo_state.json
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mbert_cli.config import RunConfig, load_run_config, resolve_config
from mbert_cli.demo import actions
from mbert_cli.demo.actions import FINETUNE
from mbert_cli.demo.recipes import RECIPES, STUDENT_SHORT_LENGTHS, Recipe
from mbert_cli.demo.results import Baseline, Benched, Exported, Finetuned, Trained
from mbert_cli.demo.stages import Stage, StageRun, run_stages
from mbert_cli.demo.state import Ledger
from mbert_cli.demo.summary import LATENCY_NOTE, Summary, summarise
from mbert_cli.errors import MbertError


@dataclass
class DemoOptions:
    """What the demo runs; `overrides` go to every run's config (e.g. fewer steps in tests)."""

    root: Path = Path("runs/demo")
    fresh: bool = False
    teacher: str = "minilm"  # a RECIPES key
    overrides: list[str] = field(default_factory=list)
    teacher_overrides: list[str] = field(default_factory=list)
    student_overrides: list[str] = field(default_factory=list)
    modes: tuple[str, ...] = ("none", "dynamic", "int8")
    bench_runs: int = 30
    bench_threads: int = 1
    loopback: bool = True

    @property
    def recipe(self) -> Recipe:
        if self.teacher not in RECIPES:
            raise MbertError(f"unknown demo teacher {self.teacher!r}", hint=f"choose one of: {', '.join(RECIPES)}")
        return RECIPES[self.teacher]


class Demo:
    """The demo's stages over one demo folder; `run()` runs them, skipping those already done."""

    def __init__(self, options: DemoOptions, say: Callable[[str], None] = print):
        self.o = options
        self.recipe = options.recipe
        self.say = say
        self.root = Path(options.root)
        self.teacher_run = self.root / "teacher"
        self.student_run = self.root / "student"
        self.scratch_run = self.root / "scratch"

    def run(self) -> dict[str, StageRun]:
        """Every stage in order; returns each stage's result and seconds (the summary's is a `Summary`)."""
        if self.o.fresh and self.root.exists():
            self.say(f"--fresh: removing {self.root}")
            shutil.rmtree(self.root)
        self._check_writable()
        return run_stages(self.stages(), Ledger(self.root), self.say)

    def stages(self) -> list[Stage]:
        """The recipe, in order; refuses a demo folder made with other presets or settings."""
        teacher_cfg, student_cfg = self.configs()
        self.check_existing(teacher_cfg, student_cfg)
        r, o, say = self.recipe, self.o, self.say
        task_data = student_cfg.data.task_data
        ft_overrides = list(r.student_finetune)

        if teacher_cfg is None:
            teacher = Stage("teacher", Trained, self.teacher_run / "teacher" / "checkpoints",
                            lambda _: actions.import_teacher(r.imported_teacher, self.teacher_run, say),
                            settings=["import", r.imported_teacher])
        else:
            teacher = Stage("teacher", Trained, self.teacher_run / "teacher" / "checkpoints",
                            lambda _: actions.pretrain_teacher(self.teacher_run, teacher_cfg, say),
                            settings=dataclasses.asdict(teacher_cfg))
        # An imported teacher brings its own config: the recipe's settings apply at its fine-tuning.
        teacher_ft = self.teacher_finetune_overrides() if teacher_cfg is None else []
        finetune_teacher = Stage(
            "finetune-teacher", Finetuned, self.teacher_run / FINETUNE / "checkpoints",
            lambda _: actions.finetune(self.teacher_run, self.teacher_run / "teacher", teacher_ft, say),
            inputs=(teacher,), settings=teacher_ft)
        # The student learns from the pre-trained or (distill.teacher_stage) the fine-tuned teacher.
        student = Stage(
            "student", Trained, self.student_run / "student" / "checkpoints",
            lambda _: actions.distil_student(self.student_run, student_cfg, self.teacher_run, say),
            inputs=(teacher if student_cfg.distill.teacher_stage == "teacher" else finetune_teacher,),
            settings=dataclasses.asdict(student_cfg))
        # With task distillation the student learns the task from the fine-tuned teacher's soft labels.
        finetune_student = Stage(
            "finetune-student", Finetuned, self.student_run / FINETUNE / "checkpoints",
            lambda _: actions.finetune(self.student_run, self.student_run / "student", ft_overrides, say,
                                       distill_from=self.teacher_run if r.task_distillation else None),
            inputs=(student, finetune_teacher) if r.task_distillation else (student,), settings=ft_overrides)
        finetune_scratch = Stage(
            "finetune-scratch", Finetuned, self.scratch_run / FINETUNE / "checkpoints",
            lambda _: actions.finetune(self.scratch_run, None, ft_overrides, say, cfg=student_cfg),
            settings=[dataclasses.asdict(student_cfg), ft_overrides])
        baseline = Stage("baseline", Baseline, self.root / "baseline.json",
                         lambda _: actions.tfidf_baseline(task_data, self.root / "baseline.json", say),
                         settings=task_data)
        lengths = actions.student_lengths(student_cfg.data.seq_len, STUDENT_SHORT_LENGTHS)
        export = Stage(
            "export", Exported, self.student_run / "export" / "manifest.json",
            lambda _: actions.export_both(self.student_run, self.teacher_run, o.modes, lengths, r.teacher_modes,
                                          r.teacher_force, say),
            inputs=(finetune_student, finetune_teacher),
            settings={"modes": list(o.modes), "teacher_modes": list(r.teacher_modes), "lengths": list(lengths),
                      "metric_examples": "whole validation split"})
        bench_host = Stage(
            "bench-host", Benched, self.root / "bench" / "host.json",
            lambda done: actions.bench_host(done[export], task_data, self.root / "bench" / "host.json",
                                            o.bench_runs, o.bench_threads),
            inputs=(export,), settings={"runs": o.bench_runs, "threads": o.bench_threads})
        bench_loopback = Stage(
            "bench-loopback", Benched, self.root / "bench" / "loopback.json",
            lambda done: actions.bench_loopback(done[export], self.root / "bench" / "loopback.json", o.bench_runs,
                                                o.bench_threads, o.loopback),
            inputs=(export,), settings={"runs": o.bench_runs, "threads": o.bench_threads, "loopback": o.loopback})
        before = (teacher, finetune_teacher, student, finetune_student, finetune_scratch, baseline, export,
                  bench_host, bench_loopback)
        summary = Stage(
            "summary", Summary, self.root / "summary.json",
            lambda done: summarise(
                self.root, r.name, f"{r.scale_note}; {LATENCY_NOTE}", teacher=done[finetune_teacher],
                distilled=done[finetune_student], scratch=done[finetune_scratch], baseline=done[baseline],
                exported=done[export], host=done[bench_host], loop=done[bench_loopback],
                timings={s.name: done.seconds(s) for s in before}),
            inputs=before, settings=r.scale_note)
        return [*before, summary]

    # -- configuration -------------------------------------------------------------
    def configs(self) -> tuple[RunConfig | None, RunConfig]:
        """(teacher config, None for an imported teacher: it brings its own; student config)."""
        common = [*self.recipe.common, *self.o.overrides]
        teacher = None
        if self.recipe.teacher_preset:
            teacher = resolve_config(self.recipe.teacher_preset, overrides=[*common, *self.o.teacher_overrides])
        student = resolve_config(self.recipe.student_preset,
                                 overrides=[*common, *self.recipe.student, *self.o.student_overrides])
        return teacher, student

    def teacher_finetune_overrides(self) -> list[str]:
        return [*self.recipe.common, *self.recipe.teacher_finetune, *self.o.overrides, *self.o.teacher_overrides]

    def check_existing(self, teacher: RunConfig | None, student: RunConfig) -> None:
        """A demo folder made with other presets or settings is refused, not silently mixed."""
        for run, cfg in ((self.teacher_run, teacher), (self.student_run, student)):
            if not (run / "config.yaml").is_file():
                continue
            old = load_run_config(run)
            if cfg is None:  # an imported teacher: the folder must hold the same import
                if (run / "import.json").is_file():
                    continue
                raise MbertError(f"{run} holds a teacher of preset {old.preset}, not the {self.recipe.name} import",
                                 hint=f"rerun with --fresh to start over in {self.root}")
            if old.preset != cfg.preset or dataclasses.asdict(old.encoder) != dataclasses.asdict(cfg.encoder):
                raise MbertError(f"{run} holds a run of preset {old.preset} with another architecture than "
                                 f"{cfg.preset}", hint=f"rerun with --fresh to start over in {self.root}")

    def _check_writable(self) -> None:
        """Creates the demo folder and writes a probe file: permission bits alone miss
        read-only mounts and root's bypass of them."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise MbertError(f"cannot write to the demo folder {self.root}: {err.strerror or err}",
                             hint="choose a writable folder with --run") from None
