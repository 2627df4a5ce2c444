"""`mbert bench`: latency of .tflite models on the host (LiteRT) or on phones over adb."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mbert_cli.cli.common import console, handles_errors
from mbert_cli.cli.options import Delegate
from mbert_cli.errors import MbertError

# Exit code of a bench where some results were produced and some failed (documented in --help).
PARTIAL_FAILURE = 3


@handles_errors
def bench_cmd(
    models: Annotated[list[Path], typer.Argument(
        help="One or more .tflite files; with several, the table shows each one's latency ratio to the first.",
        show_default=False)],
    device: Annotated[str, typer.Option(
        "--device", "-d",
        help="Where to run: 'host' (LiteRT on this machine), a device profile (e.g. pixel4), "
             "an adb serial, or 'all' attached devices.")] = "host",
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1,
        help="CPU threads. Default: 1 on the host; the device profile's count on phones (pixel4: 4).",
        show_default=False)] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Measured inferences per model (at least).")] = 50,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Un-timed warm-up inferences per model.")] = 5,
    min_seconds: Annotated[float, typer.Option(
        "--min-seconds", min=0.0,
        help="Host: keep measuring until this much time has passed, even after --runs.")] = 0.0,
    delegate: Annotated[Delegate, typer.Option(
        "--delegate", case_sensitive=False,
        help="Kernels to use: xnnpack (default CPU delegate), cpu (builtin kernels only), gpu or nnapi "
             "(devices only).")] = Delegate.xnnpack,
    benchmark_binary: Annotated[Path | None, typer.Option(
        "--benchmark-binary", envvar="MBERT_BENCHMARK_BINARY",
        help="Devices: the arm64 TFLite benchmark_model to push. Default: $MBERT_BENCHMARK_BINARY, else the "
             "one already on each device (/data/local/tmp/benchmark_model first; $MBERT_BENCHMARK_PLACES, "
             "colon-separated, sets the places searched).",
        show_default=False)] = None,
    adb: Annotated[str | None, typer.Option(
        "--adb", help="Devices: the adb client to use. Default: adb on PATH.", show_default=False)] = None,
    adb_port: Annotated[int | None, typer.Option(
        "--adb-port", help="Devices: adb server port (adb -P). Default: adb's own (5037).",
        show_default=False)] = None,
    cool_down_temp: Annotated[float | None, typer.Option(
        "--cool-down-temp",
        help="Devices: before each model, wait until the battery is at or below this many degrees C. "
             "Default: no wait.", show_default=False)] = None,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Devices: leave pushed models on the phone for inspection.")] = False,
    op_profiling: Annotated[bool, typer.Option(
        "--op-profiling", help="Devices: ask benchmark_model for per-op timings (slower runs).")] = False,
    json_path: Annotated[Path | None, typer.Option(
        "--out", metavar="FILE", help="Write the JSON results here. Default: RUN/bench/<device>-<time>.json with "
                                      "--run, else ./bench/<device>-<time>.json.", show_default=False)] = None,
    old_json_path: Annotated[Path | None, typer.Option("--json", hidden=True, help="Old spelling of --out.")] = None,
    run_dir: Annotated[Path | None, typer.Option(
        "--run", metavar="DIR", help="Run directory whose bench/ folder receives the JSON.",
        show_default=False)] = None,
    plot_path: Annotated[Path | None, typer.Option(
        "--plot", help="Also save a PNG bar chart of p50 and p90 per model (with --seq-len: the latency "
                       "curve per model).", show_default=False)] = None,
    seq_len: Annotated[str | None, typer.Option(
        "--seq-len", help="Measure each model at these lengths, e.g. 16,32,64,128: a file with one signature "
                          "per length runs the smallest that holds each, a dynamic file is resized. "
                          "Default: the file's own shape.", show_default=False)] = None,
    lengths_from: Annotated[str | None, typer.Option(
        "--lengths-from", help="With --seq-len: tokenize this task data ('shipped', a CSV/TSV with a sentence "
                               "column, or a .txt with one request per line) with the model's vocab and report "
                               "the p50/p90 latency its requests see, beside the longest length's.",
        show_default=False)] = None,
    vocab: Annotated[Path | None, typer.Option(
        "--vocab", help="With --lengths-from: the vocab.txt to tokenize with. Default: the model's, found "
                        "through the manifest.json beside it.", show_default=False)] = None,
) -> None:
    """Benchmark .tflite models on the host or on Android devices; print a table and write JSON.

    Exit code: 0 every model ran everywhere; 3 partial failure (some devices or models failed,
    the others' results are in the table and the JSON); 1 nothing ran (or bad input);
    143 stopped by SIGTERM (130 Ctrl-C), with nothing left on the phones.
    """
    from benchmarks import report as rep  # noqa: PLC0415
    from benchmarks.model_file import check_tflite  # noqa: PLC0415
    from benchmarks.result import BenchReport  # noqa: PLC0415
    for m in models:
        check_tflite(m)  # every file is checked before anything runs or is pushed
    lengths = task = None
    if seq_len is not None:
        from converters.lengths import parse_lengths  # noqa: PLC0415

        lengths = parse_lengths(seq_len, None, allow_dynamic=False).lengths
    if lengths_from is not None:
        if lengths is None:
            raise MbertError("--lengths-from needs --seq-len (the lengths the requests are served by)",
                             hint="e.g. --seq-len 16,32,64,128 --lengths-from shipped")
        from benchmarks.task_lengths import prepare_task  # noqa: PLC0415

        task = prepare_task(lengths_from, models, vocab)  # tokenized before anything runs
    if device == "host":
        if delegate in (Delegate.gpu, Delegate.nnapi):
            raise MbertError(f"--delegate {delegate.value} needs a phone; the host runs cpu or xnnpack",
                             hint="use --device pixel4 (or a serial), or --delegate xnnpack")
        from benchmarks.host import HostSettings, run_host  # noqa: PLC0415

        results = run_host(models, HostSettings(threads=threads or 1, runs=runs, warmup=warmup,
                                                min_seconds=min_seconds,
                                                xnnpack=delegate is Delegate.xnnpack, seq_lens=lengths))
        report = BenchReport(results=results, created_at=results[0].created_at if results else None)
    else:
        from benchmarks.device import DeviceSettings, run_devices  # noqa: PLC0415

        settings = DeviceSettings(threads=threads, runs=runs, warmup=warmup, min_seconds=min_seconds,
                                  delegate=delegate.value, op_profiling=op_profiling, keep=keep,
                                  cool_down_temp=cool_down_temp, seq_lens=lengths)
        report = run_devices(models, device, benchmark_binary, settings, adb_path=adb, adb_port=adb_port)
    if task is not None:
        report.task_lengths = task.summarise(report.results)

    out = console()
    # A lone failure with nothing else becomes the Error line below; print it once.
    rep.render(report, out, show_failures=bool(report.results) or len(report.failures) > 1)
    path = rep.write_json(report, json_path or old_json_path or rep.default_json_path(report, run_dir))
    out.print(f"wrote {path}", markup=False, highlight=False)
    if plot_path is not None and report.results:
        out.print(f"wrote {rep.plot(report.results, plot_path)}", markup=False, highlight=False)
    if report.failures:
        first = report.failures[0]
        if not report.results and len(report.failures) == 1:
            raise MbertError(f"{first.target}: {first.message}", hint=first.hint)
        if not report.results:  # nothing ran anywhere: a failure, not a partial one
            raise MbertError(f"all {len(report.failures)} benchmark(s) failed; first: {first.target}: {first.message}",
                             hint=first.hint)
        raise MbertError(f"{len(report.failures)} benchmark(s) failed; first: {first.target}: {first.message}",
                         hint=first.hint or "the other results were written", exit_code=PARTIAL_FAILURE)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
