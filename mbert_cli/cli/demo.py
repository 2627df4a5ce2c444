"""`mbert demo`: the whole chain on the shipped data, resumable, ending in a summary table."""

from __future__ import annotations

from pathlib import Path

import typer

from mbert_cli.cli.common import console, handles_errors
from mbert_cli.cli.options import DemoTeacher


@handles_errors
def demo_cmd(
    run: Path = typer.Option(Path("runs/demo"), "--run", metavar="DIR",
                             help="Demo folder (runs, exports, bench results, summary)."),
    fresh: bool = typer.Option(False, "--fresh", help="Delete the demo folder and start over."),
    teacher: DemoTeacher = typer.Option(DemoTeacher.minilm, "--teacher", case_sensitive=False,
                                        help="minilm: the shipped pre-trained all-MiniLM-L6-v2 teaches the "
                                             "minilm-student; nano: a nano teacher pre-trained here for minutes "
                                             "teaches the nano student (fast, what the tests run)."),
    overrides: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                        help="Config override for every run, e.g. train.steps=50 (repeatable)."),
    bench_runs: int = typer.Option(30, "--runs", min=1, help="Timed runs per model on the host and the loopback "
                                                             "device."),
    threads: int = typer.Option(1, "--threads", min=1, help="LiteRT threads for the benchmarks."),
    loopback: bool = typer.Option(True, "--loopback/--no-loopback",
                                  help="Also benchmark on a loopback Pixel 4 through the real adb client."),
    old_bench_runs: int | None = typer.Option(None, "--bench-runs", hidden=True, min=1, help="Old spelling of --runs."),
) -> None:
    """Teacher -> distilled MobileBERT student -> fine-tune -> export (float32/dynamic/int8) -> bench -> summary.

    Finished stages are skipped when their artifacts and settings are unchanged; an
    interrupted stage resumes from its last checkpoint.
    """
    from mbert_cli.demo.pipeline import Demo, DemoOptions  # noqa: PLC0415
    from mbert_cli.demo.summary import render_table  # noqa: PLC0415

    out = console()
    options = DemoOptions(root=run, fresh=fresh, teacher=teacher.value, overrides=list(overrides),
                          bench_runs=old_bench_runs or bench_runs,
                          bench_threads=threads, loopback=loopback)
    runs = Demo(options, say=lambda msg: out.print(msg, markup=False, highlight=False)).run()
    summary = runs["summary"].result
    render_table(list(summary.rows), out, note=summary.note, cpu=summary.cpu, timings=summary.timings)
    total = sum(r.seconds for r in runs.values() if not r.skipped)
    out.print(f"Demo finished in {total:.0f}s. Outputs: {run}/summary.json, {run}/summary.png, "
              f"{run}/student/export/, {run}/bench/", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
