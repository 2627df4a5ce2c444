"""The demo's stage actions: each the library call its own `mbert` command makes, returning a typed result.

They take plain arguments (run folders, configs, settings), so `pipeline.py` reads as the
recipe that wires them.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from android_harness.attach import loopback_adb, write_stand_in_binary
from benchmarks.device import DeviceSettings, harness_backend, run_devices
from benchmarks.host import HostSettings, run_host
from benchmarks.report import write_json as write_bench
from benchmarks.result import BenchReport, BenchResult
from benchmarks.task_lengths import prepare_task
from converters import ConvertedFile, ExportOptions, LengthSpec, export_run
from mbert_cli.baselines.tfidf_svm import tfidf_svm_accuracy
from mbert_cli.config import RunConfig, load_run_config
from mbert_cli.config.param_count import encoder_parameter_count
from mbert_cli.config.resolve import apply_overrides
from mbert_cli.data.classification import load_classification
from mbert_cli.demo.results import Baseline, Benched, Exported, ExportedFile, FileLatency, Finetuned, Trained
from mbert_cli.errors import MbertError
from mbert_cli.importing.importer import import_checkpoint
from mbert_cli.io_utils import atomic_write_text
from mbert_cli.training.finetune import train_finetune
from mbert_cli.training.student import train_student
from mbert_cli.training.teacher import train_teacher

TASK = "classification"
FINETUNE = f"finetune-{TASK}"
Say = Callable[[str], None]


def import_teacher(source: str, run: Path, say: Say) -> Trained:
    """`mbert import SOURCE --run RUN`."""
    if run.exists():  # a half-made import (the stage was not marked done): start it again
        shutil.rmtree(run)
    import_checkpoint(source, run, say=say)
    return Trained()


def pretrain_teacher(run: Path, cfg: RunConfig, say: Say) -> Trained:
    """`mbert train teacher`."""
    return Trained(steps=train_teacher(run, cfg, say=say)["steps"])


def distil_student(run: Path, cfg: RunConfig, teacher_run: Path, say: Say) -> Trained:
    """`mbert train student --teacher TEACHER_RUN`; the student copies the teacher's prepared
    pre-training data when both were made from the same data config (the library's own reuse)."""
    return Trained(steps=train_student(run, cfg, teacher_run, say=say)["steps"])


def finetune(run: Path, init: Path | None, overrides: Sequence[str], say: Say, *, cfg: RunConfig | None = None,
             distill_from: Path | None = None) -> Finetuned:
    """`mbert train finetune` of `run` (its own config, or `cfg` for a run from random weights)
    with `overrides` on top; `init=None` starts from random weights."""
    cfg = apply_overrides(copy.deepcopy(cfg) if cfg else load_run_config(run), overrides=list(overrides))
    summary = train_finetune(run, cfg, init, TASK, distill_from=distill_from, say=say)
    return Finetuned(accuracy=float(summary["eval"]["accuracy"]), examples=int(summary["eval"]["examples"]),
                     steps=int(summary["steps"]))


def tfidf_baseline(task_data: str, out: Path, say: Say) -> Baseline:
    """TF-IDF character n-grams + LinearSVC on the same split: what the student must beat."""
    train, validation, _ = load_classification(task_data)
    accuracy = tfidf_svm_accuracy(train, validation)
    say(f"TF-IDF char 2-5 + LinearSVC: {100 * accuracy:.1f}% on the {len(validation)} validation sentences")
    atomic_write_text(out, json.dumps(
        {"model": "TF-IDF char 2-5 + LinearSVC", "accuracy": round(100 * accuracy, 2),
         "validation_examples": len(validation), "train_examples": len(train)}, indent=2))
    return Baseline(accuracy=accuracy, validation_examples=len(validation), train_examples=len(train))


def student_lengths(seq_len: int, short: Sequence[int]) -> tuple[int, ...]:
    """The lengths the student file serves: the `short` ones below its training length, and it."""
    return tuple(sorted({n for n in short if n < seq_len} | {seq_len}))


def export_both(student_run: Path, teacher_run: Path, modes: Sequence[str], lengths: Sequence[int],
                teacher_modes: Sequence[str], teacher_force: bool, say: Say) -> Exported:
    """`mbert export` of both fine-tuned runs; the teacher at the student's length, so latencies
    compare like with like. Every validation sentence is scored, not the export's default 1,000:
    the TF and TFLite accuracies are then on the same whole split as the fine-tunes' and the baseline's."""
    cfg = load_run_config(student_run)
    seq_len, rows = cfg.data.seq_len, len(load_classification(cfg.data.task_data)[1])
    student = export_run(student_run, stage=FINETUNE, progress=say, metric_examples=rows,
                         options=ExportOptions(modes=tuple(modes), seq_len=seq_len,
                                               lengths=LengthSpec(tuple(lengths)) if len(lengths) > 1 else None))
    teacher = export_run(teacher_run, stage=FINETUNE, progress=say, metric_examples=rows,
                         options=ExportOptions(modes=tuple(teacher_modes), seq_len=seq_len, force=teacher_force))
    return Exported(_exported_files("teacher", teacher_run, teacher.out_dir, teacher.files)
                    + _exported_files("student", student_run, student.out_dir, student.files))


def _exported_files(model: str, run: Path, out_dir: Path, files: list[ConvertedFile]) -> tuple[ExportedFile, ...]:
    parameters = encoder_parameter_count(load_run_config(run).encoder)
    out = []
    for f in files:
        metric = f.task_metric or {}  # in points, as the export reports it
        out.append(ExportedFile(
            model=model, path=str((out_dir / f.file).resolve()), mode=f.mode, size_bytes=f.size_bytes,
            seq_lens=tuple(f.seq_lens or [f.seq_len]), parameters=parameters,
            accuracy_tf=_fraction(metric.get("tensorflow")), accuracy_tflite=_fraction(metric.get("tflite")),
            gate_failures=tuple(f.gate_failures)))
    return tuple(out)


def _fraction(points: float | None) -> float | None:
    return None if points is None else float(points) / 100


def bench_host(exported: Exported, task_data: str, out: Path, runs: int, threads: int) -> Benched:
    """`mbert bench` on this host: every file at its longest length; a multi-length (student) file at
    each of its lengths too, and the task's latency through them (`task_lengths` in host.json)."""
    paths = [Path(f.path) for f in exported.files]
    multi = [Path(f.path) for f in exported.files if len(f.seq_lens) > 1]
    task = prepare_task(task_data, multi) if multi else None
    results = run_host(paths, HostSettings(threads=threads, runs=runs, warmup=3),
                       lengths_per_model=[f.seq_lens if len(f.seq_lens) > 1 else None for f in exported.files])
    report = BenchReport(results=results, task_lengths=task.summarise(results) if task else [])
    write_bench(report, out)
    # Only multi-length files are measured per length (requested_seq_len set): their names are unique.
    names = {r.model.name: str(Path(r.model.path).resolve()) for r in results if r.requested_seq_len is not None}
    by_path = {names[t.model]: t for t in report.task_lengths if t.model in names}
    return Benched(tuple(FileLatency(path=p, p50_ms=p50, p90_ms=p90, mean_ms=mean, task=by_path.get(p))
                         for p, (p50, p90, mean) in _latency_by_file(results).items()))


def bench_loopback(exported: Exported, out: Path, runs: int, threads: int, enabled: bool) -> Benched:
    """`mbert bench --device pixel4` on a loopback Pixel 4 through the real adb client (started and
    stopped here); with `enabled` off, an empty report."""
    if not enabled:
        atomic_write_text(out, BenchReport().to_json())
        return Benched(skipped=True)
    # The loopback device runs any pushed arm64 ELF named benchmark_model as its LiteRT
    # stand-in, so a header-only file is enough here; on a real phone use the real tool.
    binary = write_stand_in_binary(out.parent / "loopback-tools" / "benchmark_model")
    # Each file at its longest length (a multi-length file would run its first, shortest).
    longest = {max(f.seq_lens) for f in exported.files}
    with loopback_adb(n_devices=1) as (adb, _serials):
        report = run_devices([Path(f.path) for f in exported.files], "pixel4", binary,
                             DeviceSettings(runs=runs, warmup=3, threads=threads,
                                            seq_lens=tuple(longest) if len(longest) == 1 else None),
                             backend=harness_backend(adb=adb))
    if report.failures:
        raise MbertError(f"loopback benchmark failed: {report.failures[0]}",
                         hint="run `mbert bench --device pixel4` against `python -m android_harness.loopback`")
    write_bench(report, out)
    return Benched(tuple(FileLatency(path=p, p50_ms=p50, p90_ms=p90, mean_ms=mean)
                         for p, (p50, p90, mean) in _latency_by_file(report.results).items()))


def _latency_by_file(results: Sequence[BenchResult]) -> dict[str, tuple[float | None, float | None, float]]:
    """Per file (resolved path), its latency at its longest measured length (the fixed-length figure)."""
    out, length = {}, {}
    for r in results:
        key = str(Path(r.model.path).resolve())
        n = r.requested_seq_len or 0
        if key not in out or n > length[key]:
            inf = r.inference
            out[key], length[key] = (inf.p50_ms, inf.p90_ms, inf.mean_ms), n
    return out
