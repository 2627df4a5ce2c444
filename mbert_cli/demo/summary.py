"""The demo's closing table, `summary.json` and `summary.png`, in the paper's shape, built
from the stages' returned results (accuracies as fractions there, in percent here).

Labels say what the numbers are: nano-scale models, latency on this host's CPU and on the
loopback device (which runs LiteRT on this host too), never a phone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mbert_cli.demo.results import Baseline, Benched, Exported, Finetuned, Result
from mbert_cli.io_utils import atomic_path, atomic_write_text

LATENCY_NOTE = ("latency: host CPU (LiteRT) and the loopback adb device (LiteRT on this host, not a phone); "
                "task p50/p90: the student file over the task's validation lengths, each request on the "
                "smallest signature that holds it, beside its fixed-length host p50")
SCALE_NOTE = f"nano presets trained for minutes on the shipped data; {LATENCY_NOTE}"


@dataclass
class SummaryRow:
    """One model variant: size, accuracy (TensorFlow and TFLite), latency, ratio to the teacher."""

    model: str
    parameters: int | None
    file_mb: float | None
    accuracy_tf: float | None
    accuracy_tflite: float | None
    host_p50_ms: float | None
    host_p90_ms: float | None
    loopback_ms: float | None
    speedup_vs_teacher: float | None = None
    note: str = ""
    # A multi-length file over the task's own lengths (host): what a request of the task sees.
    task_p50_ms: float | None = None
    task_p90_ms: float | None = None

    @property
    def task_ratio(self) -> float | None:
        """Task p50 against the fixed-length (longest signature) p50."""
        return self.task_p50_ms / self.host_p50_ms if self.task_p50_ms and self.host_p50_ms else None


@dataclass(frozen=True)
class Summary(Result):
    """The summary stage's result: the table's rows and its note."""

    rows: tuple[SummaryRow, ...]
    note: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        return cls(tuple(SummaryRow(**r) for r in data["rows"]), data["note"])


def percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * fraction, 2)


MODE_ORDER = {"none": 0, "float16": 1, "dynamic": 2, "int8": 3}


def build_rows(exported: Exported, host: Benched, loop: Benched, distilled: Finetuned, scratch: Finetuned,
               baseline: Baseline) -> list[SummaryRow]:
    """One row per exported file (accuracies from the export's check on the whole validation split,
    host and loopback latency, a multi-length file's latency over the task's lengths), then the
    distilled and from-scratch students and the classic baseline on the same split."""
    rows: list[SummaryRow] = []
    for model in ("teacher", "student"):
        for f in sorted((f for f in exported.files if f.model == model), key=lambda f: MODE_ORDER.get(f.mode, 9)):
            h, lp = host.of(f.path), loop.of(f.path)
            task = h.task if h else None
            rows.append(SummaryRow(
                model=f"{model} {'float32' if f.mode == 'none' else f.mode}", parameters=f.parameters,
                file_mb=round(f.size_bytes / 1e6, 3), accuracy_tf=percent(f.accuracy_tf),
                accuracy_tflite=percent(f.accuracy_tflite), host_p50_ms=h.p50_ms if h else None,
                host_p90_ms=h.p90_ms if h else None, loopback_ms=lp.mean_ms if lp else None,
                note="fails the export gates: latency reference" if f.gate_failures else "",
                task_p50_ms=task.p50_ms if task else None, task_p90_ms=task.p90_ms if task else None))
    for label, run in (("student distilled", distilled), ("student from scratch", scratch)):
        rows.append(SummaryRow(model=label, parameters=exported.parameters("student"), file_mb=None,
                               accuracy_tf=percent(run.accuracy), accuracy_tflite=None, host_p50_ms=None,
                               host_p90_ms=None, loopback_ms=None, note="TF, whole validation split"))
    rows.append(SummaryRow(model="TF-IDF + LinearSVC", parameters=None, file_mb=None,
                           accuracy_tf=percent(baseline.accuracy), accuracy_tflite=None, host_p50_ms=None,
                           host_p90_ms=None, loopback_ms=None, note="char 2-5 n-grams, same split"))
    add_speedups(rows)
    return rows


def summarise(root: Path, recipe: str, note: str, *, teacher: Finetuned, distilled: Finetuned,
              scratch: Finetuned, baseline: Baseline, exported: Exported, host: Benched, loop: Benched,
              timings: dict[str, float]) -> Summary:
    """Writes `summary.json` and `summary.png` under `root` from the stages' results."""
    rows = build_rows(exported, host, loop, distilled, scratch, baseline)
    comparison = {"distilled_student": percent(distilled.accuracy), "scratch_student": percent(scratch.accuracy),
                  "teacher": percent(teacher.accuracy), "tfidf_svm": percent(baseline.accuracy),
                  "split": "whole validation split, TensorFlow"}
    write_json(rows, root / "summary.json",
               {"teacher": recipe, "accuracy_tf": comparison,
                "task_lengths": [asdict(f.task) for f in host.files if f.task is not None],
                "timings_s": {name: round(seconds, 2) for name, seconds in timings.items()}}, note=note)
    plot(rows, root / "summary.png", note=note)
    return Summary(tuple(rows), note)


def add_speedups(rows: list[SummaryRow], teacher: str = "teacher") -> None:
    """Sets speedup = teacher host p50 / row host p50 at the same precision ("student int8" against
    "teacher int8"); none where the teacher has no file of that precision (no cross-precision ratio)."""
    base = {r.model.split(" ", 1)[1]: r.host_p50_ms for r in rows
            if r.model.startswith(teacher + " ") and r.host_p50_ms}
    for r in rows:
        ref = base.get(r.model.rsplit(" ", 1)[-1])
        r.speedup_vs_teacher = round(ref / r.host_p50_ms, 2) if ref and r.host_p50_ms else None


def write_json(rows: list[SummaryRow], path: Path, extra: dict, note: str = SCALE_NOTE) -> Path:
    payload = {"note": note, **extra, "rows": [asdict(r) for r in rows]}
    atomic_write_text(path, json.dumps(payload, indent=2))
    return path


def _fmt(value, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _task_cell(r: SummaryRow) -> str:
    if r.task_p50_ms is None:
        return "-"
    return f"{r.task_p50_ms:.3f} / {_fmt(r.task_p90_ms, '.3f')} ({_fmt(r.task_ratio, '.2f', 'x')})"


def render_table(rows: list[SummaryRow], console, note: str = SCALE_NOTE) -> None:
    """Prints the rich summary table."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="mbert demo summary", caption=note)
    for col in ("model", "params", "file MB", "acc TF %", "acc TFLite %", "host p50 ms", "host p90 ms",
                "task p50 / p90 ms (x p50)", "loopback ms", "x teacher (same precision)"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        table.add_row(r.model + (f" ({r.note})" if r.note else ""),
                      "-" if r.parameters is None else f"{r.parameters:,}", _fmt(r.file_mb, ".3f"),
                      _fmt(r.accuracy_tf, ".1f"), _fmt(r.accuracy_tflite, ".1f"), _fmt(r.host_p50_ms, ".3f"),
                      _fmt(r.host_p90_ms, ".3f"), _task_cell(r), _fmt(r.loopback_ms, ".3f"),
                      _fmt(r.speedup_vs_teacher, ".2f", "x"))
    console.print(table)


def reference_accuracies(rows: list[SummaryRow]) -> list[tuple[str, float]]:
    """Rows with an accuracy but no file to time (the from-scratch baseline): drawn as lines."""
    return [(f"{r.model} ({r.note})" if r.note else r.model, r.accuracy_tf)
            for r in rows if r.host_p50_ms is None and r.accuracy_tf is not None]


def label_offsets(points: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Text offsets (in points) for the labels of scatter points: above-right by default,
    stacked below a label already placed near the same spot (equal accuracies are common:
    float32 and dynamic-range files often score alike), so no two labels overlap."""
    if not points:
        return []
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_near = 0.15 * ((max(xs) - min(xs)) or 1.0)
    y_near = 0.05 * ((max(ys) - min(ys)) or 1.0)
    offsets: list[tuple[int, int]] = []
    for i, (x, y) in enumerate(points):
        crowd = sum(abs(x - xs[j]) < x_near and abs(y - ys[j]) < y_near for j in range(i))
        offsets.append((5, 5 - 12 * crowd))
    return offsets


def plot(rows: list[SummaryRow], path: Path, note: str = SCALE_NOTE) -> Path:
    """Two panels: task accuracy vs host latency (baselines without a file as dashed lines),
    and host p50/p90 latency per model."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    timed = [r for r in rows if r.host_p50_ms is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    points = [(r.model, r.host_p50_ms, r.accuracy_tflite if r.accuracy_tflite is not None else r.accuracy_tf)
              for r in timed]
    points = [p for p in points if p[2] is not None]
    for (name, x, acc), offset in zip(points, label_offsets([(x, acc) for _, x, acc in points]), strict=True):
        left.scatter(x, acc, s=60)
        left.annotate(name, (x, acc), textcoords="offset points", xytext=offset, fontsize=8)
    for label, acc in reference_accuracies(rows):
        left.axhline(acc, linestyle="--", color="gray", linewidth=1)
        left.annotate(f"{label}: {acc:.1f}%", (0, acc), xycoords=("axes fraction", "data"),
                      textcoords="offset points", xytext=(4, 4), fontsize=8, color="gray")
    left.set_xlabel("host latency p50 (ms, LiteRT, CPU)")
    left.set_ylabel("sentiment accuracy (%)")
    left.set_title("accuracy vs latency (points: TFLite on the export check rows)", fontsize=10)
    left.grid(alpha=0.3)
    names = [r.model for r in timed]
    xs = range(len(timed))
    right.bar([x - 0.2 for x in xs], [r.host_p50_ms for r in timed], width=0.4, label="p50")
    right.bar([x + 0.2 for x in xs], [r.host_p90_ms or 0 for r in timed], width=0.4, label="p90")
    right.set_xticks(list(xs))
    right.set_xticklabels(names, rotation=25, ha="right", fontsize=8)
    right.set_ylabel("ms")
    right.set_title("host latency per model")
    right.legend()
    fig.suptitle("mbert demo: " + note, fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
