"""Renders benchmark results: a rich table, an atomically written JSON file, a PNG plot."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
from rich import box
from rich.table import Table

from benchmarks.result import BenchReport, BenchResult
from mbert_cli.io_utils import atomic_write_bytes

WARN = "⚠"


def headline_ms(r: BenchResult) -> float:
    """The figure ratios use: p50 when known (robust to outliers), else the mean."""
    return r.inference.p50_ms if r.inference.p50_ms is not None else r.inference.mean_ms


def has_lengths(results: Sequence[BenchResult]) -> bool:
    """True when the results are a per-length curve (`--seq-len`)."""
    return any(r.requested_seq_len is not None for r in results)


def ratios(results: Sequence[BenchResult]) -> list[float | None]:
    """Each result's latency over the first result's on the same runner.

    Ratios across runners would compare machines, not models, so each runner (host, each
    device) has its own baseline: its first model. With per-length results the baseline is
    the same model on the same runner at its longest length (the curve's "x of 128").
    """
    base: dict[tuple, float] = {}
    curve = has_lengths(results)
    if curve:
        longest: dict[tuple, BenchResult] = {}
        for r in results:
            key = (r.runner.label, r.model.path)
            if key not in longest or (r.requested_seq_len or 0) > (longest[key].requested_seq_len or 0):
                longest[key] = r
        base = {k: headline_ms(r) for k, r in longest.items()}
    out: list[float | None] = []
    for r in results:
        key = (r.runner.label, r.model.path) if curve else (r.runner.label,)
        base.setdefault(key, headline_ms(r))
        out.append(headline_ms(r) / base[key] if base[key] > 0 else None)
    return out


def _decimals(v: float) -> int:
    """About three significant digits: 61.8, 175, 0.0263."""
    if v <= 0:
        return 3
    return max(0, 2 - math.floor(math.log10(v)))


def fmt_ms(v: float | None, like: float | None = None) -> str:
    """Formats a latency; `like` borrows another value's precision (std beside its mean)."""
    if v is None:
        return "-"
    return f"{v:.{_decimals(like if like is not None else v)}f}"


def mode_label(mode: str | None) -> str:
    """The export manifest calls the unquantized file mode 'none'; readers know it as float32."""
    return {"none": "float32", None: "-"}.get(mode, mode)


def coverage_text(r: BenchResult) -> str:
    c = r.coverage
    if c.delegate is None and c.total_nodes is None:
        return "-"  # plain CPU kernels: nothing to delegate
    if c.fraction is None:
        return "full" if c.partitions == 1 else "unknown"
    text = f"{c.delegated_nodes}/{c.total_nodes}"
    return f"{text} {WARN}" if c.partial else text


def build_table(results: Sequence[BenchResult], failures: Sequence[Any] = ()):
    """The rich Table users read; partial delegation and loopback are marked in it."""
    table = Table(title="mbert bench (latency in ms)", caption=_caption(results), caption_justify="left",
                  box=box.SIMPLE_HEAD, title_justify="left")
    curve = has_lengths(results)
    columns = [("model", "left"), ("mode", "left"), ("size MB", "right"), ("runner", "left"),
               ("threads", "right"), ("runs", "right"), ("p50", "right"), ("p90", "right"),
               ("mean ± std", "right"), ("ratio", "right"), ("coverage", "left")]
    if curve:
        columns[3:3] = [("seq", "right"), ("served by", "left")]
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=name in ("model", "mean ± std", "served by"))
    for r, ratio in zip(results, ratios(results), strict=True):
        cells = [
            r.model.name, mode_label(r.model.mode), f"{r.model.size_mb:.2f}", r.runner.label, str(r.settings.threads),
            str(r.inference.count), fmt_ms(r.inference.p50_ms), fmt_ms(r.inference.p90_ms),
            f"{fmt_ms(r.inference.mean_ms)} ± {fmt_ms(r.inference.std_ms, like=r.inference.mean_ms)}",
            "-" if ratio is None else f"{ratio:.2f}x", coverage_text(r),
        ]
        if curve:
            cells[3:3] = [str(r.requested_seq_len or "-"), f"{r.signature or '-'} @ {r.seq_len or '-'}"]
        table.add_row(*cells)
    for f in failures:
        # A device or model that produced nothing keeps its row, marked, with the reason.
        serial, _, model = f.target.partition(" ")
        failed = [model or "(every model)", "-", "-", serial, "-", "0", "FAILED", "-", "-", "-", f.message]
        if curve:
            failed[3:3] = ["-", "-"]
        table.add_row(*failed)
    return table


def task_table(rows: Sequence[Any]):
    """The task-length figures: what a request of the task sees, beside the fixed-length file."""
    table = Table(title="latency at the task's own lengths (ms)", box=box.SIMPLE_HEAD, title_justify="left",
                  caption="each request runs on the smallest measured length that holds it; p50/p90 over "
                          "the requests; fixed = every request at the longest length", caption_justify="left")
    for name in ("model", "data", "requests", "tokens p50/p90", "served (length: requests)", "p50", "p90",
                 "fixed", "fixed p50", "fixed p90", "p50 ratio"):
        table.add_column(name, justify="left" if name in ("model", "data", "served (length: requests)") else "right")
    for t in rows:
        table.add_row(t.model, t.data, str(t.requests), f"{t.token_p50:g}/{t.token_p90:g}",
                      ", ".join(f"{k}: {v}" for k, v in t.served.items()) + (f" ({t.truncated} truncated)"
                                                                            if t.truncated else ""),
                      fmt_ms(t.p50_ms), fmt_ms(t.p90_ms), f"seq{t.fixed_seq_len}", fmt_ms(t.fixed_p50_ms),
                      fmt_ms(t.fixed_p90_ms), f"{t.p50_ratio:.2f}x")
    return table


def _caption(results: Sequence[BenchResult]) -> str:
    notes = ["ratio: p50 (else mean) over the same model at its longest length on the same runner"
             if has_lengths(results) else "ratio: p50 (else mean) over the first model on the same runner"]
    if any(r.runner.loopback for r in results):
        notes.append("loopback = mbert's stand-in device: host timings, not a phone's")
    if any(r.coverage.partial for r in results):
        notes.append(f"{WARN} the delegate ran only part of the graph; the rest ran on CPU kernels")
    if any(r.inference.p90_ms is None for r in results):
        notes.append("- = not reported (benchmark_model prints no p90/p99)")
    return "\n".join(notes)


def render(report: BenchReport, console: Any, show_failures: bool = True) -> None:
    """Prints the table, per-result warnings, and (unless the caller reports them) failures."""
    if not console.is_terminal:
        # Piped output (logs, CI, tests) has no width to respect; 80 columns would wrap every cell.
        console.width = max(console.width, 140)
    if report.results:
        console.print(build_table(report.results, report.failures))
    if report.task_lengths:
        console.print(task_table(report.task_lengths))
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    for r in report.results:
        for w in r.warnings:
            console.print(f"warning: {r.model.name} on {r.runner.label}: {w}", markup=False, highlight=False)
    for f in report.failures if show_failures else ():
        console.print(f"failed: {f.target}: {f.message}" + (f" (hint: {f.hint})" if f.hint else ""),
                      markup=False, highlight=False)


def default_json_path(report: BenchReport, run_dir: str | Path | None = None, now: datetime | None = None) -> Path:
    """`<run>/bench/<device>-<time>.json`, or `./bench/...` without a run directory."""
    labels = sorted({_device_tag(r) for r in report.results} | {_safe(f.target.split()[0]) for f in report.failures})
    device = labels[0] if len(labels) == 1 else ("multi" if labels else "none")
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(run_dir) / "bench" if run_dir else Path("bench")
    return base / f"{device}-{stamp}.json"


def _device_tag(r: BenchResult) -> str:
    if r.runner.kind == "host":
        return "host"
    tag = _safe(r.runner.serial or "device")
    return f"loopback-{tag}" if r.runner.loopback else tag


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "device"


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Writes to a temporary name in the same folder, then renames: never a half file."""
    atomic_write_bytes(path, data)
    return Path(path)


def write_json(report: BenchReport, path: str | Path) -> Path:
    return write_atomic(path, (report.to_json() + "\n").encode())


def plot(results: Sequence[BenchResult], path: str | Path) -> Path:
    """Bar chart: p50 and p90 latency per model and runner (p90 bar absent when unknown);
    with per-length results, the latency curve: p50 (p90 dashed) against sequence length."""
    matplotlib.use("Agg")
    if has_lengths(results):
        return _plot_curve(results, path, plt, io)

    labels = [f"{r.model.name}\n{r.runner.label}" for r in results]
    p50 = [headline_ms(r) for r in results]
    p90 = [r.inference.p90_ms if r.inference.p90_ms is not None else 0.0 for r in results]
    xs = range(len(results))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(results) + 1.5), 4.0))
    any_mean = any(r.inference.p50_ms is None for r in results)
    ax.bar([x - width / 2 for x in xs], p50, width, label="p50 (mean where no p50)" if any_mean else "p50")
    ax.bar([x + width / 2 for x in xs], p90, width, label="p90")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("latency (ms)")
    ax.set_title("mbert bench")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return write_atomic(path, buf.getvalue())


def _plot_curve(results: Sequence[BenchResult], path: str | Path, plt: Any, io: Any) -> Path:
    curves: dict[str, list[BenchResult]] = {}
    for r in results:
        curves.setdefault(f"{r.model.name} ({mode_label(r.model.mode)}, {r.runner.label})", []).append(r)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, rs in curves.items():
        rs = sorted(rs, key=lambda r: r.requested_seq_len or 0)
        xs = [r.requested_seq_len for r in rs]
        (line,) = ax.plot(xs, [headline_ms(r) for r in rs], marker="o", label=f"{label} p50")
        if all(r.inference.p90_ms is not None for r in rs):
            ax.plot(xs, [r.inference.p90_ms for r in rs], linestyle="--", color=line.get_color(), label=f"{label} p90")
    ax.set_xlabel("sequence length (tokens)")
    ax.set_ylabel("latency (ms)")
    ax.set_title("mbert bench: latency per sequence length")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return write_atomic(path, buf.getvalue())
