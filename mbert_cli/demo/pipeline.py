"""The demo chain: each stage is the same library call as its own `mbert` command.

Layout under the demo root (default runs/demo):
  teacher/   run of nano-teacher: teacher/ (pre-training), finetune-classification/, export/
  student/   run of nano-student: student/ (distillation), finetune-classification/, export/
  scratch/   nano-student fine-tuned from random weights: the baseline distillation must beat
  bench/     host and loopback-device results (JSON)
  summary.json, summary.png, demo_state.json
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mbert_cli.config import RunConfig, load_run_config, resolve_config
from mbert_cli.demo.state import Ledger, config_hash
from mbert_cli.demo.summary import SummaryRow, add_speedups, plot, write_json
from mbert_cli.errors import MbertError

TASK = "classification"
TEACHER_PRESET, STUDENT_PRESET = "nano-teacher", "nano-student"


@dataclass
class DemoOptions:
    """What the demo runs; `overrides` go to every run's config (e.g. fewer steps in tests)."""

    root: Path = Path("runs/demo")
    fresh: bool = False
    overrides: list[str] = field(default_factory=list)
    teacher_overrides: list[str] = field(default_factory=list)
    student_overrides: list[str] = field(default_factory=list)
    modes: tuple[str, ...] = ("none", "dynamic", "int8")
    bench_runs: int = 30
    bench_threads: int = 1
    loopback: bool = True
    stop_after: str | None = None  # for tests and debugging: stop once this stage is done


STAGES = ("teacher", "student", "finetune-student", "finetune-teacher", "finetune-scratch", "export",
          "bench-host", "bench-loopback", "summary")


class Demo:
    """Runs the stages in order, skipping those whose artifacts and config hash are unchanged."""

    def __init__(self, options: DemoOptions, say: Callable[[str], None] = print):
        self.o = options
        self.say = say
        self.root = Path(options.root)
        self.teacher_run = self.root / "teacher"
        self.student_run = self.root / "student"
        self.scratch_run = self.root / "scratch"
        self.hashes: dict[str, str] = {}

    # -- configuration -------------------------------------------------------------
    def configs(self) -> tuple[RunConfig, RunConfig]:
        teacher = resolve_config(TEACHER_PRESET, overrides=[*self.o.overrides, *self.o.teacher_overrides])
        student = resolve_config(STUDENT_PRESET, overrides=[*self.o.overrides, *self.o.student_overrides])
        return teacher, student

    def check_existing(self, teacher: RunConfig, student: RunConfig) -> None:
        """A demo folder made with other presets or settings is refused, not silently mixed."""
        for run, cfg in ((self.teacher_run, teacher), (self.student_run, student)):
            if not (run / "config.yaml").is_file():
                continue
            old = load_run_config(run)
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
        plan = [
            ("teacher", [dataclasses.asdict(teacher_cfg)], self.teacher_run / "teacher" / "checkpoints",
             lambda: self._train_teacher(teacher_cfg)),
            ("student", [dataclasses.asdict(student_cfg), "teacher"], self.student_run / "student" / "checkpoints",
             lambda: self._train_student(student_cfg)),
            ("finetune-student", ["student"], self.student_run / f"finetune-{TASK}" / "checkpoints",
             lambda: self._finetune(self.student_run, self.student_run / "student")),
            ("finetune-teacher", ["teacher"], self.teacher_run / f"finetune-{TASK}" / "checkpoints",
             lambda: self._finetune(self.teacher_run, self.teacher_run / "teacher")),
            ("finetune-scratch", [dataclasses.asdict(student_cfg)], self.scratch_run / f"finetune-{TASK}" / "checkpoints",
             lambda: self._finetune_scratch(student_cfg)),
            ("export", ["finetune-student", "finetune-teacher", list(self.o.modes)],
             self.student_run / "export" / "manifest.json", self._export),
            ("bench-host", ["export", self.o.bench_runs, self.o.bench_threads],
             self.root / "bench" / "host.json", self._bench_host),
            ("bench-loopback", ["export", self.o.bench_runs, self.o.loopback],
             self.root / "bench" / "loopback.json", self._bench_loopback),
            ("summary", ["bench-host", "bench-loopback", "finetune-scratch"], self.root / "summary.json",
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

    def _finetune(self, run: Path, init: Path) -> dict:
        from mbert_cli.training.finetune import train_finetune  # noqa: PLC0415

        cfg = load_run_config(run)
        summary = train_finetune(run, cfg, init, TASK, say=self.say)
        return {"summary": _jsonable(summary)}

    def _finetune_scratch(self, cfg: RunConfig) -> dict:
        from mbert_cli.training.finetune import train_finetune  # noqa: PLC0415

        summary = train_finetune(self.scratch_run, cfg, None, TASK, say=self.say)
        return {"summary": _jsonable(summary)}

    def _export(self) -> dict:
        from converters import ExportOptions, export_run  # noqa: PLC0415

        stage = f"finetune-{TASK}"
        student_cfg = load_run_config(self.student_run)
        seq_len = student_cfg.data.seq_len
        student = export_run(self.student_run, stage=stage, progress=self.say,
                             options=ExportOptions(modes=tuple(self.o.modes), seq_len=seq_len))
        teacher = export_run(self.teacher_run, stage=stage, progress=self.say,
                             options=ExportOptions(modes=("none",), seq_len=seq_len))
        return {"student_files": [str(student.out_dir / f.file) for f in student.files],
                "teacher_files": [str(teacher.out_dir / f.file) for f in teacher.files]}

    def _exported_files(self) -> list[Path]:
        """Teacher float32 first (the ratio base), then the student's files in mode order."""
        files = []
        for run in (self.teacher_run, self.student_run):
            manifest = json.loads((run / "export" / "manifest.json").read_text())
            files += [run / "export" / entry["file"] for entry in manifest["files"]]
        return files

    def _bench_host(self) -> dict:
        from benchmarks.host import HostSettings, run_host  # noqa: PLC0415
        from benchmarks.report import write_json as write_bench  # noqa: PLC0415
        from benchmarks.result import BenchReport  # noqa: PLC0415

        results = run_host(self._exported_files(),
                           HostSettings(threads=self.o.bench_threads, runs=self.o.bench_runs, warmup=3))
        write_bench(BenchReport(results=results), self.root / "bench" / "host.json")
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
            report = run_devices(self._exported_files(), "pixel4", binary,
                                 DeviceSettings(runs=self.o.bench_runs, warmup=3, threads=self.o.bench_threads),
                                 backend=backend)
        if report.failures:
            raise MbertError(f"loopback benchmark failed: {report.failures[0]}",
                             hint="run `mbert bench --device pixel4` against `python -m android_harness.loopback`")
        write_bench(report, out)
        return {}

    def _summary(self) -> dict:
        from benchmarks.result import BenchReport  # noqa: PLC0415

        host = BenchReport.from_dict(json.loads((self.root / "bench" / "host.json").read_text())).results
        loop = BenchReport.from_dict(json.loads((self.root / "bench" / "loopback.json").read_text())).results
        rows = build_rows(self, host, loop)
        add_speedups(rows, "teacher float32")
        comparison = {"distilled_student": _finetune_accuracy(self.student_run),
                      "scratch_student": _finetune_accuracy(self.scratch_run),
                      "teacher": _finetune_accuracy(self.teacher_run),
                      "split": "whole validation split, TensorFlow"}
        write_json(rows, self.root / "summary.json",
                   {"accuracy_tf": comparison, "timings_s": Ledger(self.root).data.get("stages", {})})
        plot(rows, self.root / "summary.png")
        return {}


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def _latency_by_file(results) -> dict[str, tuple[float | None, float | None, float]]:
    out = {}
    for r in results:
        inf = r.inference
        out[str(Path(r.model.path).resolve())] = (inf.p50_ms, inf.p90_ms, inf.mean_ms)
    return out


def build_rows(demo: Demo, host, loop) -> list[SummaryRow]:
    """Joins accuracies (fine-tune evals, export manifests) with host and loopback latency."""
    from mbert_cli.config import get_preset  # noqa: PLC0415

    host_lat, loop_lat = _latency_by_file(host), _latency_by_file(loop)
    rows: list[SummaryRow] = []
    for label, run, preset in (("teacher", demo.teacher_run, TEACHER_PRESET), ("student", demo.student_run, STUDENT_PRESET)):
        manifest = json.loads((run / "export" / "manifest.json").read_text())
        order = {"none": 0, "float16": 1, "dynamic": 2, "int8": 3}
        for entry in sorted(manifest["files"], key=lambda e: order.get(e["mode"], 9)):
            mode = {"none": "float32"}.get(entry["mode"], entry["mode"])
            metric = entry.get("task_metric") or {}
            key = str((run / "export" / entry["file"]).resolve())
            p50, p90, _ = host_lat.get(key, (None, None, None))
            lp = loop_lat.get(key)
            rows.append(SummaryRow(
                model=f"{label} {mode}", parameters=get_preset(preset).parameter_count(),
                # Both accuracies from the export's own check: the same validation rows.
                file_mb=round(entry["size_bytes"] / 1e6, 3), accuracy_tf=metric.get("tensorflow"),
                accuracy_tflite=metric.get("tflite"), host_p50_ms=p50, host_p90_ms=p90,
                loopback_ms=lp[2] if lp else None))
    # Like with like: the distilled and the from-scratch student on the whole validation split.
    for label, run in (("student distilled", demo.student_run), ("student from scratch", demo.scratch_run)):
        rows.append(SummaryRow(model=label, parameters=get_preset(STUDENT_PRESET).parameter_count(),
                               file_mb=None, accuracy_tf=_finetune_accuracy(run), accuracy_tflite=None,
                               host_p50_ms=None, host_p90_ms=None, loopback_ms=None, note="TF, whole validation split"))
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
