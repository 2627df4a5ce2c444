"""The demo chain: each stage is the same library call as its own `mbert` command.

Two recipes (`mbert demo --teacher`):
  minilm (default)  the shipped all-MiniLM-L6-v2 (`mbert import minilm`) is the teacher: it is
                    fine-tuned on the task, the `minilm-student` MobileBERT learns its layers and
                    attentions on the film corpus (all layers together: distill.strategy=joint),
                    then the task from its soft labels (`--distill-from`); the same student
                    from random weights is the control.
  nano              a nano IB-BERT teacher pre-trained here for minutes, the nano student
                    distilled from it (fast; what the tests run).

Layout under the demo root (default runs/demo):
  teacher/   the teacher run: teacher/ (imported or pre-trained), finetune-classification/, export/
  student/   the student run: student/ (distillation), finetune-classification/, export/
  scratch/   the same student fine-tuned from random weights: the baseline distillation must beat
  bench/     host and loopback-device results (JSON)
  baseline.json (TF-IDF + LinearSVC on the same split), summary.json, summary.png, demo_state.json
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mbert_cli.config import RunConfig, load_run_config, resolve_config
from mbert_cli.config.resolve import apply_overrides
from mbert_cli.demo.state import Ledger, config_hash
from mbert_cli.demo.summary import LATENCY_NOTE, SummaryRow, add_speedups, plot, write_json
from mbert_cli.errors import MbertError

TASK = "classification"
# The student file also serves these shorter lengths (one signature each, shared weights):
# a request runs on the smallest that holds it, and the summary reports the latency over
# the task's own validation lengths beside the fixed-length (data.seq_len) figure.
STUDENT_SHORT_LENGTHS = (16, 32)


@dataclass(frozen=True)
class Recipe:
    """Which teacher and student the demo runs, and how each is fine-tuned."""

    name: str
    student_preset: str
    teacher_preset: str | None = None  # a teacher pre-trained here ...
    imported_teacher: str | None = None  # ... or an `mbert import` source, e.g. 'minilm'
    common: tuple[str, ...] = ()  # overrides for every run of the recipe
    teacher_finetune: tuple[str, ...] = ()  # overrides for the teacher's fine-tuning only
    student: tuple[str, ...] = ()  # overrides for the student (and the from-scratch control)
    # overrides for the fine-tuning of the distilled student and of the control only
    student_finetune: tuple[str, ...] = ()
    task_distillation: bool = False  # student fine-tuned on the fine-tuned teacher's soft labels
    teacher_modes: tuple[str, ...] = ("none",)
    # Quantized teacher files that fail the export gates are still written (and marked in the
    # summary): the teacher is a latency reference, not the model that ships.
    teacher_force: bool = False
    scale_note: str = ""


RECIPES = {
    # MiniLM fine-tuned with the import's recipe (importer.FINETUNE_SETTINGS: two epochs at
    # batch 16, AdamW 4e-5; mean pooling, as sentence-transformers trained it), batches grouped
    # by length. Then the student learns the fine-tuned teacher's layers and attentions, all
    # layers at once (joint), then pre-training distillation (TinyBERT's task-specific
    # distillation, distill.teacher_stage) on the film corpus, and the task from its soft labels. MiniLM's
    # full-int8 file fails the export gates (parity cosine 0.91, -2.2 points: a GELU/LayerNorm
    # BERT has no OPT substitution; -5.7 in another run); it is written anyway as the int8
    # latency reference.
    "minilm": Recipe(
        "minilm", student_preset="minilm-student", imported_teacher="minilm",
        common=("data.group_by_length=true",),  # task batches grouped by length (data/length_batches.py)
        # The import's recipe (84.29 +- 0.48 over 3 seeds in bfloat16, 84.42 +- 0.48 in float32; README),
        # not one epoch at batch 32 and 5e-5 (83.1, about half the time): the better teacher
        # lifts the student (README).
        # A checkpoint and whole-split evaluation every 500 steps, not 100: each costs MiniLM
        # about 6 s, 70 s of the 1,435 steps' 322 s (training is unchanged; the last one stays).
        teacher_finetune=("train.checkpoint_every=500",),
        # 1.5 epochs for the distilled student and the control alike: the demo's 15-minute budget.
        # Joint rather than progressive (the preset's) layer transfer: it leads on the mean over
        # fine-tune seeds 42/1/2 on both CPUs measured (+2.25 vs +1.62 points over random weights
        # on the AMX Xeon in bfloat16, +1.86 vs +1.41 on AMD EPYC in float32; README), though it
        # moves more between distillations at a single seed.
        student=("distill.teacher_stage=finetune-classification", "finetune.epochs=1.5",
                 "distill.strategy=joint"),
        # Checkpoint and evaluate the students' 538 fine-tuning steps every 250, not 100: each
        # costs about 6 s, 18 s per run (training is unchanged; the last step's stays).
        student_finetune=("train.checkpoint_every=250",),
        task_distillation=True, teacher_modes=("none", "int8"), teacher_force=True,
        scale_note="teacher: the shipped all-MiniLM-L6-v2 (22.7M parameters) fine-tuned here; student: "
                   "minilm-student (7.3M) distilled from it for minutes on 2 CPU cores"),
    "nano": Recipe("nano", teacher_preset="nano-teacher", student_preset="nano-student",
                   scale_note="nano presets trained for minutes on the shipped data"),
}


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
    stop_after: str | None = None  # for tests and debugging: stop once this stage is done

    @property
    def recipe(self) -> Recipe:
        if self.teacher not in RECIPES:
            raise MbertError(f"unknown demo teacher {self.teacher!r}", hint=f"choose one of: {', '.join(RECIPES)}")
        return RECIPES[self.teacher]


STAGES = ("teacher", "finetune-teacher", "student", "finetune-student", "finetune-scratch", "baseline", "export",
          "bench-host", "bench-loopback", "summary")


class Demo:
    """Runs the stages in order, skipping those whose artifacts and config hash are unchanged."""

    def __init__(self, options: DemoOptions, say: Callable[[str], None] = print):
        self.o = options
        self.recipe = options.recipe
        self.say = say
        self.root = Path(options.root)
        self.teacher_run = self.root / "teacher"
        self.student_run = self.root / "student"
        self.scratch_run = self.root / "scratch"
        self.hashes: dict[str, str] = {}

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

    # -- driver ----------------------------------------------------------------------
    def run(self) -> dict:
        if self.o.fresh and self.root.exists():
            self.say(f"--fresh: removing {self.root}")
            shutil.rmtree(self.root)
        self._check_writable()
        teacher_cfg, student_cfg = self.configs()
        self.check_existing(teacher_cfg, student_cfg)
        ledger = Ledger(self.root)
        teacher_key = dataclasses.asdict(teacher_cfg) if teacher_cfg else ["import", self.recipe.imported_teacher]
        ft = f"finetune-{TASK}"
        plan = [
            ("teacher", [teacher_key], self.teacher_run / "teacher" / "checkpoints",
             lambda: self._teacher(teacher_cfg)),
            ("finetune-teacher", ["teacher", self.teacher_finetune_overrides()],
             self.teacher_run / ft / "checkpoints", self._finetune_teacher),
            # The student learns from the pre-trained or (distill.teacher_stage) the fine-tuned teacher.
            ("student", [dataclasses.asdict(student_cfg),
                         "teacher" if student_cfg.distill.teacher_stage == "teacher" else "finetune-teacher"],
             self.student_run / "student" / "checkpoints",
             lambda: self._train_student(student_cfg)),
            ("finetune-student", ["student", "finetune-teacher" if self.recipe.task_distillation else "-",
                                  list(self.recipe.student_finetune)],
             self.student_run / ft / "checkpoints", self._finetune_student),
            ("finetune-scratch", [dataclasses.asdict(student_cfg), list(self.recipe.student_finetune)],
             self.scratch_run / ft / "checkpoints",
             lambda: self._finetune_scratch(student_cfg)),
            ("baseline", [student_cfg.data.task_data], self.root / "baseline.json", self._baseline),
            ("export", ["finetune-student", "finetune-teacher", list(self.o.modes), list(self.recipe.teacher_modes),
                        list(self.student_lengths(student_cfg.data.seq_len)), "whole-validation-split"],
             self.student_run / "export" / "manifest.json", self._export),
            ("bench-host", ["export", self.o.bench_runs, self.o.bench_threads],
             self.root / "bench" / "host.json", self._bench_host),
            ("bench-loopback", ["export", self.o.bench_runs, self.o.loopback],
             self.root / "bench" / "loopback.json", self._bench_loopback),
            ("summary", ["bench-host", "bench-loopback", "finetune-scratch", "baseline"], self.root / "summary.json",
             self._summary),
        ]
        timings = {}
        for name, deps, artifact, action in plan:
            # Each stage's hash folds in the hashes of the stages it depends on.
            digest = config_hash(name, [self.hashes.get(d, d) if isinstance(d, str) else d for d in deps])
            self.hashes[name] = digest
            if ledger.done(name, digest, artifact):
                self.say(f"[{name}] done earlier, skipped ({artifact})")
                timings[name] = 0.0
            else:
                self.say(f"[{name}] running")
                started = time.time()
                info = self._run_stage(name, action)
                timings[name] = time.time() - started
                ledger.mark(name, digest, timings[name], info)
                self.say(f"[{name}] finished in {timings[name]:.1f}s")
            if self.o.stop_after == name:
                break
        return {"root": str(self.root), "seconds": timings}

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

    def _run_stage(self, name: str, action: Callable[[], dict | None]) -> dict:
        """Runs one stage; a failed write (disk full, folder made read-only) becomes one line.

        Stages write through temporary names and checkpoints, and the ledger marks a stage
        only after it returns, so a failed stage leaves no artifact that looks finished.
        """
        try:
            return action() or {}
        except OSError as err:
            where = f" ({err.filename})" if err.filename else ""
            raise MbertError(f"stage {name} stopped on a file-system error: {err.strerror or err}{where}",
                             hint="free some disk space (or fix the folder's permissions) and rerun the same "
                                  "command: finished stages are skipped, this one resumes") from None

    # -- stages (each one library call, as its command makes) ------------------------
    def _teacher(self, cfg: RunConfig | None) -> dict:
        if cfg is not None:
            return self._train_teacher(cfg)
        from mbert_cli.importing.importer import import_checkpoint  # noqa: PLC0415

        if self.teacher_run.exists():  # a half-made import (the stage was not marked done): start it again
            shutil.rmtree(self.teacher_run)
        import_checkpoint(self.recipe.imported_teacher, self.teacher_run, say=self.say)
        return {}

    def _train_teacher(self, cfg: RunConfig) -> dict:
        from mbert_cli.training.teacher import train_teacher  # noqa: PLC0415

        summary = train_teacher(self.teacher_run, cfg, say=self.say)
        return {"summary": _jsonable(summary)}

    def _train_student(self, cfg: RunConfig) -> dict:
        from mbert_cli.training.student import train_student  # noqa: PLC0415

        self._share_pretraining_data()
        summary = train_student(self.student_run, cfg, self.teacher_run, say=self.say)
        return {"summary": _jsonable(summary)}

    def _share_pretraining_data(self) -> None:
        """The student reads the teacher's TFRecords (same vocab and seq len) instead of re-making them."""
        from mbert_cli.training.run_dir import pretrain_data_dir  # noqa: PLC0415

        src, dst = pretrain_data_dir(self.teacher_run), pretrain_data_dir(self.student_run)
        if (src / "meta.json").is_file() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src.resolve(), target_is_directory=True)

    def _finetune(self, run: Path, init: Path, overrides: list[str] = (), distill_from: Path | None = None) -> dict:
        from mbert_cli.training.finetune import train_finetune  # noqa: PLC0415

        cfg = apply_overrides(load_run_config(run), overrides=overrides)
        summary = train_finetune(run, cfg, init, TASK, distill_from=distill_from, say=self.say)
        return {"summary": _jsonable(summary)}

    def _finetune_teacher(self) -> dict:
        overrides = self.teacher_finetune_overrides() if self.recipe.imported_teacher else []
        return self._finetune(self.teacher_run, self.teacher_run / "teacher", overrides)

    def _finetune_student(self) -> dict:
        teacher = self.teacher_run if self.recipe.task_distillation else None
        return self._finetune(self.student_run, self.student_run / "student", list(self.recipe.student_finetune),
                              distill_from=teacher)

    def _finetune_scratch(self, cfg: RunConfig) -> dict:
        from mbert_cli.training.finetune import train_finetune  # noqa: PLC0415

        cfg = apply_overrides(copy.deepcopy(cfg), overrides=list(self.recipe.student_finetune))
        summary = train_finetune(self.scratch_run, cfg, None, TASK, say=self.say)
        return {"summary": _jsonable(summary)}

    def _baseline(self) -> dict:
        """TF-IDF character n-grams + LinearSVC on the same split: what the student must beat."""
        from mbert_cli.baselines.tfidf_svm import tfidf_svm_accuracy  # noqa: PLC0415
        from mbert_cli.data.classification import load_classification  # noqa: PLC0415
        from mbert_cli.io_utils import atomic_write_text  # noqa: PLC0415

        train, validation, _ = load_classification(load_run_config(self.student_run).data.task_data)
        accuracy = tfidf_svm_accuracy(train, validation)
        self.say(f"TF-IDF char 2-5 + LinearSVC: {100 * accuracy:.1f}% on the {len(validation)} validation sentences")
        atomic_write_text(self.root / "baseline.json", json.dumps(
            {"model": "TF-IDF char 2-5 + LinearSVC", "accuracy": round(100 * accuracy, 2),
             "validation_examples": len(validation), "train_examples": len(train)}, indent=2))
        return {}

    def _validation_size(self) -> int:
        """How many sentences the task's validation split holds."""
        from mbert_cli.data.classification import load_classification  # noqa: PLC0415

        return len(load_classification(load_run_config(self.student_run).data.task_data)[1])

    @staticmethod
    def student_lengths(seq_len: int) -> tuple[int, ...]:
        """The lengths the student file serves: the short buckets below its training length, and it."""
        return tuple(sorted({n for n in STUDENT_SHORT_LENGTHS if n < seq_len} | {seq_len}))

    def _export(self) -> dict:
        from converters import ExportOptions, export_run  # noqa: PLC0415
        from converters.lengths import LengthSpec  # noqa: PLC0415

        stage = f"finetune-{TASK}"
        seq_len = load_run_config(self.student_run).data.seq_len
        lengths = self.student_lengths(seq_len)
        # Every validation sentence, not the export's default 1,000: the summary's TF and TFLite
        # accuracies are then on the same whole split as the fine-tunes' and the baseline's.
        rows = self._validation_size()
        student = export_run(self.student_run, stage=stage, progress=self.say, metric_examples=rows,
                             options=ExportOptions(modes=tuple(self.o.modes), seq_len=seq_len,
                                                   lengths=LengthSpec(lengths) if len(lengths) > 1 else None))
        # The teacher at the student's length, so latencies compare like with like.
        teacher = export_run(self.teacher_run, stage=stage, progress=self.say, metric_examples=rows,
                             options=ExportOptions(modes=self.recipe.teacher_modes, seq_len=seq_len,
                                                   force=self.recipe.teacher_force))
        return {"student_files": [str(student.out_dir / f.file) for f in student.files],
                "teacher_files": [str(teacher.out_dir / f.file) for f in teacher.files]}

    def export_entries(self, run: Path) -> list[dict]:
        """The run's manifest entries of the files the last export stage wrote (the manifest
        also keeps files an earlier export left in the folder, e.g. a single-length file)."""
        manifest = json.loads((run / "export" / "manifest.json").read_text())
        info = Ledger(self.root).data.get("stages", {}).get("export", {})
        wrote = {str(Path(f).resolve()) for f in info.get("student_files", []) + info.get("teacher_files", [])}
        return [e for e in manifest["files"]
                if not wrote or str((run / "export" / e["file"]).resolve()) in wrote]

    def _exported(self) -> dict[Path, tuple[int, ...]]:
        """Each exported file with its fixed lengths (one for a single-length file): the
        teacher's first (its float32 is the ratio base), then the student's, in mode order."""
        return {run / "export" / entry["file"]: tuple(entry.get("seq_lens") or [entry["seq_len"]])
                for run in (self.teacher_run, self.student_run) for entry in self.export_entries(run)}

    def _bench_host(self) -> dict:
        """Every file at its longest length; a multi-length (student) file at each of its
        lengths too, and the task's latency through them (`task_lengths` in host.json)."""
        from benchmarks.host import HostSettings, run_host  # noqa: PLC0415
        from benchmarks.report import write_json as write_bench  # noqa: PLC0415
        from benchmarks.result import BenchReport  # noqa: PLC0415
        from benchmarks.task_lengths import prepare_task  # noqa: PLC0415

        lengths = self._exported()
        files = list(lengths)
        multi = [f for f in files if len(lengths.get(f, ())) > 1]
        task = prepare_task(load_run_config(self.student_run).data.task_data, multi) if multi else None
        results = run_host(files, HostSettings(threads=self.o.bench_threads, runs=self.o.bench_runs, warmup=3),
                           lengths_per_model=[lengths[f] if f in multi else None for f in files])
        report = BenchReport(results=results)
        if task is not None:
            report.task_lengths = task.summarise(results)
        write_bench(report, self.root / "bench" / "host.json")
        return {}

    def _bench_loopback(self) -> dict:
        """Benchmarks on a loopback Pixel 4 through the real adb client (started and stopped here)."""
        from benchmarks.device import DeviceSettings, harness_backend, run_devices  # noqa: PLC0415
        from benchmarks.report import write_json as write_bench  # noqa: PLC0415
        from benchmarks.result import BenchReport  # noqa: PLC0415

        out = self.root / "bench" / "loopback.json"
        if not self.o.loopback:
            from mbert_cli.io_utils import atomic_write_text  # noqa: PLC0415

            atomic_write_text(out, BenchReport().to_json())
            return {"skipped": True}
        from android_harness.attach import loopback_adb, write_stand_in_binary  # noqa: PLC0415

        # The loopback device runs any pushed arm64 ELF named benchmark_model as its LiteRT
        # stand-in, so a header-only file is enough here; on a real phone use the real tool.
        binary = write_stand_in_binary(self.root / "bench" / "loopback-tools" / "benchmark_model")
        with loopback_adb(n_devices=1) as (adb, _serials):
            backend = harness_backend(adb=adb)
            lengths = self._exported()
            files = list(lengths)
            # Each file at its longest length (a multi-length file would run its first, shortest).
            longest = {max(n) for n in lengths.values()}
            report = run_devices(files, "pixel4", binary,
                                 DeviceSettings(runs=self.o.bench_runs, warmup=3, threads=self.o.bench_threads,
                                                seq_lens=tuple(longest) if len(longest) == 1 else None),
                                 backend=backend)
        if report.failures:
            raise MbertError(f"loopback benchmark failed: {report.failures[0]}",
                             hint="run `mbert bench --device pixel4` against `python -m android_harness.loopback`")
        write_bench(report, out)
        return {}

    def _summary(self) -> dict:
        from benchmarks.result import BenchReport  # noqa: PLC0415

        host_report = BenchReport.from_dict(json.loads((self.root / "bench" / "host.json").read_text()))
        host = host_report.results
        loop = BenchReport.from_dict(json.loads((self.root / "bench" / "loopback.json").read_text())).results
        rows = build_rows(self, host, loop, host_report.task_lengths)
        add_speedups(rows)
        baseline = json.loads((self.root / "baseline.json").read_text())
        comparison = {"distilled_student": _finetune_accuracy(self.student_run),
                      "scratch_student": _finetune_accuracy(self.scratch_run),
                      "teacher": _finetune_accuracy(self.teacher_run),
                      "tfidf_svm": baseline["accuracy"],
                      "split": "whole validation split, TensorFlow"}
        note = f"{self.recipe.scale_note}; {LATENCY_NOTE}"
        write_json(rows, self.root / "summary.json",
                   {"teacher": self.recipe.name, "accuracy_tf": comparison,
                    "task_lengths": [_jsonable(dataclasses.asdict(t)) for t in host_report.task_lengths],
                    "timings_s": Ledger(self.root).data.get("stages", {})}, note=note)
        plot(rows, self.root / "summary.png", note=note)
        return {}


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def _latency_by_file(results) -> dict[str, tuple[float | None, float | None, float]]:
    """Per file, its latency at its longest measured length (the fixed-length figure)."""
    out, length = {}, {}
    for r in results:
        key = str(Path(r.model.path).resolve())
        n = r.requested_seq_len or 0
        if key not in out or n > length[key]:
            inf = r.inference
            out[key], length[key] = (inf.p50_ms, inf.p90_ms, inf.mean_ms), n
    return out


def build_rows(demo: Demo, host, loop, task_lengths=()) -> list[SummaryRow]:
    """Joins accuracies (fine-tune evals, export manifests) with host and loopback latency,
    and a multi-length file's latency over the task's lengths (`task_lengths`)."""
    from mbert_cli.config.param_count import encoder_parameter_count  # noqa: PLC0415

    host_lat, loop_lat = _latency_by_file(host), _latency_by_file(loop)
    # Only multi-length files are measured per length (requested_seq_len set): their names are unique.
    paths = {r.model.name: str(Path(r.model.path).resolve()) for r in host if r.requested_seq_len is not None}
    task = {paths[t.model]: t for t in task_lengths if t.model in paths}
    rows: list[SummaryRow] = []
    params = {}
    for label, run in (("teacher", demo.teacher_run), ("student", demo.student_run)):
        params[label] = encoder_parameter_count(load_run_config(run).encoder)
        order = {"none": 0, "float16": 1, "dynamic": 2, "int8": 3}
        for entry in sorted(demo.export_entries(run), key=lambda e: order.get(e["mode"], 9)):
            mode = {"none": "float32"}.get(entry["mode"], entry["mode"])
            metric = entry.get("task_metric") or {}
            key = str((run / "export" / entry["file"]).resolve())
            p50, p90, _ = host_lat.get(key, (None, None, None))
            lp = loop_lat.get(key)
            t = task.get(key)
            rows.append(SummaryRow(
                model=f"{label} {mode}", parameters=params[label],
                # Both accuracies from the export's own check: the whole validation split.
                file_mb=round(entry["size_bytes"] / 1e6, 3), accuracy_tf=metric.get("tensorflow"),
                accuracy_tflite=metric.get("tflite"), host_p50_ms=p50, host_p90_ms=p90,
                loopback_ms=lp[2] if lp else None,
                note="fails the export gates: latency reference" if entry.get("gate_failures") else "",
                task_p50_ms=t.p50_ms if t else None, task_p90_ms=t.p90_ms if t else None))
    # Like with like: the distilled and the from-scratch student on the whole validation split,
    # and the classic baseline on the same split.
    for label, run in (("student distilled", demo.student_run), ("student from scratch", demo.scratch_run)):
        rows.append(SummaryRow(model=label, parameters=params["student"], file_mb=None,
                               accuracy_tf=_finetune_accuracy(run), accuracy_tflite=None, host_p50_ms=None,
                               host_p90_ms=None, loopback_ms=None, note="TF, whole validation split"))
    baseline = json.loads((demo.root / "baseline.json").read_text())
    rows.append(SummaryRow(model="TF-IDF + LinearSVC", parameters=None, file_mb=None,
                           accuracy_tf=baseline["accuracy"], accuracy_tflite=None, host_p50_ms=None,
                           host_p90_ms=None, loopback_ms=None, note="char 2-5 n-grams, same split"))
    return rows


def _finetune_accuracy(run: Path) -> float | None:
    """Final validation accuracy (percent, whole validation split) from the stage's metrics.jsonl."""
    path = run / f"finetune-{TASK}" / "metrics.jsonl"
    if not path.is_file():
        return None
    last = None
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("kind") == "eval" and "accuracy" in row:
            acc = float(row["accuracy"])
            last = acc * 100 if acc <= 1.0 else acc
    return None if last is None else round(last, 2)
