"""The demo's closing table, `summary.json` and `summary.png`, in the paper's shape, built
from the stages' returned results (accuracies as fractions there, in percent here).

Labels say what the numbers are: nano-scale models, latency on this host's CPU and on the
loopback device (which runs LiteRT on this host too), never a phone.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import Bbox, ScaledTranslation
from rich.table import Table

from benchmarks.environment import SPEED_FLAGS, cpu_summary
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
    """The summary stage's result: the table's rows, its note, the CPU it ran on and each stage's seconds."""

    rows: tuple[SummaryRow, ...]
    note: str
    cpu: dict[str, Any] | None = None  # benchmarks.environment.cpu_summary()
    timings: dict[str, float] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        return cls(tuple(SummaryRow(**r) for r in data["rows"]), data["note"], data.get("cpu"), data.get("timings"))


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
    """Writes `summary.json` and `summary.png` under `root` from the stages' results, stamped
    with this machine's CPU (model, speed flags, cores, threads) and each stage's time."""
    rows = build_rows(exported, host, loop, distilled, scratch, baseline)
    cpu = cpu_summary()
    stage_seconds = {name: round(seconds, 2) for name, seconds in timings.items()}
    comparison = {"distilled_student": percent(distilled.accuracy), "scratch_student": percent(scratch.accuracy),
                  "teacher": percent(teacher.accuracy), "tfidf_svm": percent(baseline.accuracy),
                  "split": "whole validation split, TensorFlow"}
    write_json(rows, root / "summary.json",
               {"teacher": recipe, "accuracy_tf": comparison,
                "task_lengths": [asdict(f.task) for f in host.files if f.task is not None],
                "cpu": cpu, "timings_s": stage_seconds}, note=note)
    plot(rows, root / "summary.png", note=note, cpu=cpu, timings=stage_seconds)
    return Summary(tuple(rows), note, cpu, stage_seconds)


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


def render_table(rows: list[SummaryRow], console, note: str = SCALE_NOTE, *, cpu: dict | None = None,
                 timings: dict[str, float] | None = None) -> None:
    """Prints the rich summary table; its caption: the note, the CPU and each stage's time."""
    caption = "\n".join([note, *([cpu_line(cpu)] if cpu else []), *([timings_line(timings)] if timings else [])])
    table = Table(title="mbert demo summary", caption=caption)
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


def cpu_line(cpu: dict | None) -> str:
    """The CPU's model, cores / threads and speed flags ("none of ..." without them), in one line."""
    if not cpu:
        return "CPU: not recorded"
    flags = ", ".join(cpu.get("flags") or []) or "none of " + ", ".join(SPEED_FLAGS[:3])
    cores = f"{cpu['cores']} cores / " if cpu.get("cores") else ""
    return f"CPU: {cpu.get('model') or 'unknown'}, {cores}{cpu.get('threads')} threads; flags: {flags}"


def timings_line(timings: dict[str, float] | None) -> str:
    """Each stage's seconds and their sum, in the demo's stage order."""
    if not timings:
        return "stage times: not recorded"
    parts = [f"{name} {seconds:.0f}" for name, seconds in timings.items()]
    return f"stage times (s): {', '.join(parts)}; total {sum(timings.values()):.0f}"


# Where a point's label may go, nearest first: (dx, dy) in points and the text's alignment.
_SIDES = ((1, 0, "left", "center"), (-1, 0, "right", "center"), (0, 1, "center", "bottom"),
          (0, -1, "center", "top"), (1, 1, "left", "bottom"), (1, -1, "left", "top"),
          (-1, 1, "right", "bottom"), (-1, -1, "right", "top"))
LABEL_CANDIDATES = tuple((dx * d, dy * d, ha, va) for d in (7, 13, 20, 30, 42) for dx, dy, ha, va in _SIDES)


def _overlap(a, b) -> float:
    """Area (pixels²) two display boxes share."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _contains(outer, inner) -> bool:
    return outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1


def place_labels(labels: list, obstacles: list, inside, renderer) -> None:
    """Moves each annotation (in order) to the first of `LABEL_CANDIDATES` whose box stays in
    `inside` and clear of `obstacles` and of the labels placed before it; where none is clear,
    to the one with the least overlap. Measured with the renderer: the boxes are the drawn text's."""
    taken = list(obstacles)
    for label in labels:
        best, best_cost = None, float("inf")
        for dx, dy, ha, va in LABEL_CANDIDATES:
            label.xyann = (dx, dy)
            label.set_horizontalalignment(ha)
            label.set_verticalalignment(va)
            box = label.get_window_extent(renderer).padded(2)
            outside = box.width * box.height - _overlap(box, inside)
            cost = 10 * outside + sum(_overlap(box, t) for t in taken)
            if cost < best_cost:
                best, best_cost = (dx, dy, ha, va), cost
            if cost == 0:
                break
        dx, dy, ha, va = best
        label.xyann = (dx, dy)
        label.set_horizontalalignment(ha)
        label.set_verticalalignment(va)
        taken.append(label.get_window_extent(renderer).padded(2))


def _nice_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 steps between `lo` and `hi`: readable ticks on a logarithmic axis."""
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
             for m in (1, 2, 5)]
    inside = [t for t in ticks if lo <= t <= hi]
    return inside if len(inside) >= 2 else [lo, hi]


def _accuracy_panel(ax, rows: list[SummaryRow]) -> list:
    """Accuracy vs host p50 (log scale: the students sit close together), baselines without a
    file as lines named in a legend under the panel; returns the points' labels, placed later."""
    points = [(r.model, r.host_p50_ms, r.accuracy_tflite if r.accuracy_tflite is not None else r.accuracy_tf)
              for r in rows if r.host_p50_ms]
    points = [p for p in points if p[2] is not None]
    refs = reference_accuracies(rows)
    labels = []
    for i, (name, x, acc) in enumerate(points):
        ax.scatter(x, acc, s=50, color=f"C{i % 10}", zorder=3)
        label = ax.annotate(name, (x, acc), textcoords="offset points", xytext=LABEL_CANDIDATES[0][:2],
                            fontsize=8, color=f"C{i % 10}", annotation_clip=False, zorder=4,
                            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none",
                                  "alpha": 0.8})
        label.set_in_layout(False)  # placed after the layout, inside the panel
        labels.append(label)
    styles = ("--", ":", "-.", (0, (5, 2, 1, 2)))
    for i, (label, acc) in enumerate(refs):
        ax.axhline(acc, linestyle=styles[i % len(styles)], color="0.4", linewidth=1,
                   label=f"{label}: {acc:.1f}%")
    accs = [p[2] for p in points] + [a for _, a in refs]
    if accs:
        lo, hi = min(accs), max(accs)
        pad = max(0.25 * (hi - lo), 1.0)
        ax.set_ylim(lo - pad, hi + pad)
    if points:
        xs = [p[1] for p in points]
        lo, hi = min(xs) / 1.6, max(xs) * 1.6
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(FixedLocator(_nice_ticks(lo, hi)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("host latency p50 (ms, LiteRT on this CPU, log scale)")
    ax.set_ylabel("sentiment accuracy (%)")
    ax.set_title("accuracy vs latency (points: TFLite files)", fontsize=10)
    ax.grid(alpha=0.3)
    if refs:  # under the axis label: a fixed offset in points, whatever the panel's size
        below = ax.transAxes + ScaledTranslation(0, -42 / 72, ax.figure.dpi_scale_trans)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, fontsize=8,
                  frameon=False, title="without a file (TensorFlow)", title_fontsize=8)
    return labels


def _latency_panel(ax, rows: list[SummaryRow]) -> None:
    timed = [r for r in rows if r.host_p50_ms is not None]
    xs = range(len(timed))
    ax.bar([x - 0.2 for x in xs], [r.host_p50_ms for r in timed], width=0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], [r.host_p90_ms or 0 for r in timed], width=0.4, label="p90")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r.model for r in timed], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("ms")
    ax.set_title("host latency per model (LiteRT, one request)", fontsize=10)
    if timed:
        ax.legend(fontsize=8)


def _timings_panel(ax, timings: dict[str, float] | None) -> None:
    if not timings:
        ax.axis("off")
        ax.text(0.5, 0.5, "stage times not recorded", ha="center", va="center", transform=ax.transAxes)
        return
    names, seconds = list(timings), list(timings.values())
    ys = range(len(names))
    ax.barh(ys, seconds, color="C2")
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()  # the demo's order, top down
    top = max(seconds) or 1.0
    ax.set_xlim(0, 1.3 * top)
    for y, s in zip(ys, seconds, strict=True):
        ax.text(s + 0.01 * top, y, f"{s:.0f} s", va="center", fontsize=8)
    ax.set_xlabel("seconds")
    ax.set_title(f"stage times (total {sum(seconds):.0f} s; a skipped stage: when it ran)", fontsize=10)


def figure(rows: list[SummaryRow], note: str = SCALE_NOTE, *, cpu: dict | None = None,
           timings: dict[str, float] | None = None):
    """The summary picture, laid out and with its labels placed: accuracy vs latency, latency per
    model, each stage's time, and the CPU and the note as wrapped text (nothing runs off an edge)."""
    fig = Figure(figsize=(13, 9.5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    (acc_ax, lat_ax), (time_ax, text_ax) = fig.subplots(2, 2)
    labels = _accuracy_panel(acc_ax, rows)
    _latency_panel(lat_ax, rows)
    _timings_panel(time_ax, timings)
    text_ax.axis("off")
    paragraphs = [cpu_line(cpu), *(p.strip() for p in note.split(";") if p.strip())]
    wrapped = "\n".join(textwrap.fill(p, width=80, subsequent_indent="  ") for p in paragraphs)
    note_text = text_ax.text(0, 1, wrapped, va="top", ha="left", fontsize=9, transform=text_ax.transAxes,
                             linespacing=1.4)
    fig.suptitle("mbert demo summary", fontsize=13)

    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()  # the constrained layout sets each panel's place; then it is frozen
    fig.set_layout_engine("none")
    room = text_ax.get_window_extent(renderer)
    while note_text.get_fontsize() > 5 and not _contains(room, note_text.get_window_extent(renderer)):
        note_text.set_fontsize(note_text.get_fontsize() - 0.5)  # a long note: smaller, never clipped
    panel = acc_ax.get_window_extent(renderer)
    markers = [acc_ax.transData.transform(label.xy) for label in labels]
    # Labels keep off the points and, where they can, off the baselines' lines (a thin band each).
    obstacles = [_marker_box(x, y, fig.dpi) for x, y in markers]
    obstacles += [Bbox.from_extents(panel.x0, y - 1, panel.x1, y + 1)
                  for y in (acc_ax.transData.transform((1, line.get_ydata()[0]))[1] for line in acc_ax.get_lines())]
    place_labels(labels, obstacles, panel, renderer)
    return fig


def _marker_box(x: float, y: float, dpi: float):
    """A scatter point's box in pixels (s=50 points² marker, padded)."""
    half = 6 * dpi / 72
    return Bbox.from_extents(x - half, y - half, x + half, y + half)


def plot(rows: list[SummaryRow], path: Path, note: str = SCALE_NOTE, *, cpu: dict | None = None,
         timings: dict[str, float] | None = None) -> Path:
    """Writes `figure(...)` as a PNG (through a temporary name)."""
    fig = figure(rows, note, cpu=cpu, timings=timings)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
