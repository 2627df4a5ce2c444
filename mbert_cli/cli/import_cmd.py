"""`mbert import`: a published checkpoint (HF safetensors, google-research TF1, tf-models TF2) -> a run folder."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mbert_cli.cli.common import console, handles_errors
from mbert_cli.cli.options import FromOpt, ImportFormat
from mbert_cli.errors import MbertError
from mbert_cli.importing import hub_cache

# The shorthands `mbert import` resolves itself (everything else is a path).
SHORTHANDS = ("minilm",)


@handles_errors
def import_cmd(
    source: Annotated[str, typer.Argument(help="'minilm' (the shipped all-MiniLM-L6-v2), a model id (org/name) in the "
                                               "local Hugging Face cache (HF_HOME / HF_HUB_CACHE), a folder with "
                                               "model.safetensors + config.json + vocab.txt, a .safetensors file, or a "
                                               "TF checkpoint prefix/folder with bert_config.json beside it.")],
    run: Annotated[Path, typer.Option("--run", metavar="DIR", help="New run folder to write (runs/NAME).")],
    fmt: Annotated[ImportFormat, typer.Option("--format", case_sensitive=False,
                                              help="Checkpoint format; auto detects it.")] = ImportFormat.auto,
    vocab: Annotated[Path | None, typer.Option("--vocab", help="vocab.txt when it is not beside the checkpoint.")]
    = None,
) -> None:
    """Import a published BERT/MobileBERT checkpoint as a run that train, eval, export and bench accept."""
    _check_source(source)  # before TensorFlow loads: a wrong path answers at once
    from mbert_cli.importing.importer import import_checkpoint  # noqa: PLC0415

    out = console()
    with out.status("Importing ...") if out.is_terminal else contextlib.nullcontext():
        report = import_checkpoint(source, run, fmt=fmt.value, vocab=vocab, say=lambda m: out.print(m, markup=False))
    _render(out, report, run)


def _check_source(source: str) -> None:
    """A source that is neither a shorthand, a cached model id nor an existing path (or TF checkpoint prefix)
    fails here, before TensorFlow loads."""
    if source in SHORTHANDS:
        return
    if hub_cache.looks_like_hub_id(source):
        hub_cache.resolve(source)  # a cache miss answers now, naming where it looked
        return
    path = Path(source)
    if path.exists() or Path(f"{source}.index").is_file():  # a file, a folder, or a TF checkpoint prefix
        return
    raise MbertError(f"no checkpoint at {source}: no such file or folder",
                     hint="pass 'minilm', a folder with model.safetensors + config.json + vocab.txt, a .safetensors "
                          "file, or a TF checkpoint prefix (the path without .index)")


def _render(out, report: dict, run: Path) -> None:
    table = Table(title=f"Imported {report['architecture']} ({report['format']})", show_header=True)
    table.add_column("what")
    table.add_column("result")
    table.add_row("tensors mapped", str(len(report["mapped"])))
    table.add_row("parameters mapped", f"{report['parameters_mapped']:,}")
    for head, state in report["heads"].items():
        table.add_row(f"{head} head", state)
    table.add_row("tensors dropped", str(len(report["dropped"])))
    out.print(table)
    for name, why in list(report["dropped"].items())[:8]:
        out.print(f"  dropped {name}: {why}", markup=False, highlight=False)
    for note in report["notes"]:
        out.print(note, markup=False, highlight=False)
    out.print(f"Wrote {run} (config.yaml, vocab.txt, import.json, checkpoint).", markup=False, highlight=False)


@handles_errors
def export_hf_cmd(
    run: Annotated[Path, typer.Option("--run", help="Run folder (runs/NAME) with a teacher or student stage.")],
    out: Annotated[Path, typer.Option("--out", help="New folder for model.safetensors + config.json + vocab.txt.")],
    stage: FromOpt = None,
) -> None:
    """Write a run's encoder + MLM head in the Hugging Face layout (what `mbert import` reads back)."""
    from mbert_cli.importing.export_hf import export_hf  # noqa: PLC0415

    result = export_hf(run, out, stage)
    console().print(f"Wrote {result['out']}: {result['tensors']} tensors, {result['parameters']:,} parameters "
                    f"({result['architecture']}, stage {result['stage']}).", markup=False, highlight=False)
    for note in result["notes"]:
        console().print(f"Note: {note}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
    app.command("export-hf")(export_hf_cmd)
