"""`mbert export`: a trained run -> verified TFLite files (float32/dynamic/int8/float16) + manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mbert_cli.cli.common import console, handles_errors
from mbert_cli.config.export import QUANTIZATION_MODES as MODES
from mbert_cli.errors import MbertError


@handles_errors
def export_cmd(
    ctx: typer.Context,
    run: Annotated[Path, typer.Option("--run", help="Run directory (config.yaml + <stage>/checkpoints).",
                                      show_default=False)],
    stage: Annotated[str | None, typer.Option(
        "--from", help="Stage to export: student, teacher, finetune-classification or finetune-squad. "
                       "Default: the most finished stage with a checkpoint.", show_default=False)] = None,
    quantize: Annotated[list[str] | None, typer.Option(
        "--quantize", "-q", help=f"One or more of {', '.join(MODES)} (space- or comma-separated, or repeated); "
                                 "one file per mode.", show_default=False)] = None,
    opt: Annotated[bool, typer.Option(
        "--opt", help="Substitute LayerNorm/GELU by NoNorm/ReLU, with recovery distillation, first.")] = False,
    recovery_steps: Annotated[int | None, typer.Option(
        "--recovery-steps", min=0, help="OPT recovery distillation steps. Default: the run's export config.",
        show_default=False)] = None,
    seq_len: Annotated[str | None, typer.Option(
        "--seq-len", help="Sequence length of the files: one length (128), several (32,64,128: one "
                          "signature per length, seq32..., weights stored once; a request runs on the "
                          "smallest that fits) or 'dynamic' (resizable; slower, see README). "
                          "Default: the run's export config (128).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder. Default: RUN/export.",
                                             show_default=False)] = None,
    max_drop: Annotated[float | None, typer.Option(
        "--max-drop", min=0.0, help="Task-metric points a quantized file may lose before the export fails. "
                                    "Default: 1.0.", show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Write files that fail the metric or parity gate (their figures are recorded).")] = False,
    allow_flex: Annotated[bool, typer.Option(
        "--allow-flex", help="Accept Select TF (Flex) ops; the phone app must link the Flex library.")] = False,
    int8_full: Annotated[bool, typer.Option(
        "--int8-full", help="int8: quantize attention matmuls/softmax/mask add too. Default keeps them float, "
                            "which XNNPACK runs ~2x faster on x86.")] = False,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Print and write (quant_diagnosis.json) each layer's quantization error for "
                          "int8/dynamic, worst first.")] = False,
    search_budget: Annotated[str | None, typer.Option(
        "--search-budget", help="Bound on the mixed-precision search run when int8 fails the gate: "
                                "seconds (300, 300s) or candidates (8c). Default: 300 s.",
        show_default=False)] = None,
    representative: Annotated[int | None, typer.Option(
        "--representative", min=1, help="Calibration examples for int8. Default: the run's export config (100).",
        show_default=False)] = None,
    parity_examples: Annotated[int | None, typer.Option(
        "--parity-examples", min=1, help="Held-out synthetic rows for parity when the stage has no task data. "
                                         "Default: 32.", show_default=False)] = None,
    app_metadata: Annotated[bool | None, typer.Option(
        "--app-metadata/--no-app-metadata",
        help="App-ready files that MediaPipe's TextClassifier/TextEmbedder load as they are (vocab, labels, "
             "int32 inputs, probabilities or embedding out; docs/app-ready.md). Default: on for a "
             "single-sentence classifier or a mean-pooled sentence encoder.", show_default=False)] = None,
    metric_examples: Annotated[int | None, typer.Option(
        "--metric-examples", min=1, help="Validation examples for parity and the task-metric gate. "
                                         "Default: 1000 (or all).", show_default=False)] = None,
) -> None:
    """Export a run to verified TFLite files with a named signature, plus manifest.json."""
    modes = [m.strip() for item in (quantize or []) + list(ctx.args) for m in item.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            raise MbertError(f"unknown quantization mode {m!r}" if not m.startswith("-") else
                             f"unknown option {m!r}", hint=f"--quantize takes: {', '.join(MODES)}")
    from converters import export_run  # noqa: PLC0415

    out_console = console()
    settings = {"modes": modes, "seq_len": seq_len, "representative": representative, "max_drop": max_drop,
                "force": force, "allow_flex": allow_flex, "int8_full": int8_full,
                "explain": explain, "search_budget": search_budget}
    report = export_run(run, stage=stage, settings=settings, out_dir=out, opt=opt, recovery_steps=recovery_steps,
                        parity_examples=parity_examples, metric_examples=metric_examples,
                        progress=lambda msg: out_console.print(msg, markup=False), app=app_metadata)
    if report.opt:
        out_console.print(_opt_line(report.opt), markup=False)
    for f in report.files:
        gate = f" (FORCED: {'; '.join(f.gate_failures)})" if f.gate_failures else \
            (f" (mixed precision: {f.mixed_precision['chosen']})" if f.mixed_precision else "")
        lengths = "  dynamic" if f.dynamic else (f"  seq {','.join(map(str, f.seq_lens))}" if len(f.seq_lens) > 1 else "")
        out_console.print(f"{report.out_dir / f.file}  {f.size_bytes / 1e6:.2f} MB  {f.mode}{lengths}{gate}",
                          markup=False)


def register(app: typer.Typer) -> None:
    # allow_extra_args: `--quantize none int8 dynamic` (values after the first arrive as extra args).
    app.command("export", context_settings={"allow_extra_args": True})(export_cmd)


def _opt_line(opt: dict) -> str:
    if opt.get("noop"):
        return "OPT: the model is already NoNorm/ReLU; nothing substituted"
    m = opt.get("metric", {})
    return (f"OPT: {opt.get('copied', 0)} weights copied; {m.get('name', 'metric')} before "
            f"{m.get('before')}, after copy {m.get('after_copy')}, after {opt.get('steps')} recovery steps "
            f"{m.get('after_recovery')}")
