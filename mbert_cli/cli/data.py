"""`mbert data`: tokenize a corpus into MLM+NSP TFRecords, or build a WordPiece vocab."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mbert_cli.cli.common import MbertTyper, console, handles_errors
from mbert_cli.config import resolve_config

data_app = MbertTyper(help="Prepare pre-training and task data (tokenize, mask, write TFRecords).")


@data_app.command("prepare")
@handles_errors
def prepare_cmd(
    preset: Annotated[str, typer.Option("--preset", help="Model preset (sets vocab size, seq len, masking).")]
    = "nano-student",
    corpus: Annotated[str | None, typer.Option(
        "--corpus", help="'movies' (film plots + the sentiment task's training reviews), 'books' (KJV + "
                         "Shakespeare), 'shipped' (all of them) or a UTF-8 text file / folder of .txt files "
                         "(one sentence per line, blank line between documents). Default: the config's.")] = None,
    vocab: Annotated[str | None, typer.Option(
        "--vocab", help="vocab.txt matching the preset's vocab_size, or 'shipped'. Default: the config's.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder. Default: <run>/data/pretrain with --run, else runs/data/<preset>.")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="Run folder to write the data into.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML config applied over the preset.")]
    = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config key, e.g. --set data.seq_len=128 (repeatable).")] = None,
    max_documents: Annotated[int | None, typer.Option(
        "--max-documents", help="Use only the first N documents (0 = all).")] = None,
) -> None:
    """Tokenize a corpus into MLM+NSP TFRecords (15% masked, 80/10/10; 50% random next) and print statistics."""
    sets = list(overrides or [])
    if corpus is not None:
        sets.append(f"data.corpus={corpus}")
    if vocab is not None:
        sets.append(f"data.vocab={vocab}")
    if max_documents is not None:
        sets.append(f"data.max_documents={max_documents}")
    cfg = resolve_config(preset, config, sets)
    out_dir = out or (run / "data" / "pretrain" if run else Path("runs") / "data" / preset)

    from mbert_cli.data.pretraining import check_output_dir, prepare_pretraining_data  # noqa: PLC0415
    from mbert_cli.data.vocab import resolve_vocab  # noqa: PLC0415

    check_output_dir(out_dir)
    vocab_path = resolve_vocab(cfg.data.vocab, cfg.encoder.vocab_size)
    with _progress_bar() as report:
        stats = prepare_pretraining_data(cfg.data, vocab_path, out_dir, progress=report, run_config=cfg)

    table = Table(title=f"pre-training data: {out_dir}", show_header=False)
    rows = [
        ("documents", f"{stats.documents:,}"),
        ("examples (train / eval)", f"{stats.examples:,} ({stats.train_examples:,} / {stats.eval_examples:,})"),
        ("tokens", f"{stats.tokens:,}"),
        ("masked tokens", f"{stats.masked_tokens:,} ({stats.masked_share:.1%} masked share)"),
        ("random next (NSP label 1)", f"{stats.random_next_share:.1%}"),
        ("train shards", str(stats.shards)),
        ("seq len / vocab", f"{stats.seq_len} / {stats.vocab_size} ({vocab_path})"),
        ("seconds", f"{stats.seconds:.1f}"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console().print(table)


@data_app.command("vocab")
@handles_errors
def vocab_cmd(
    out: Annotated[Path, typer.Option("--out", help="Where to write the vocab.txt.")],
    corpus: Annotated[str, typer.Option("--corpus", help="'shipped', 'movies', 'books' or a text file / folder of .txt files.")]
    = "shipped",
    size: Annotated[int, typer.Option("--size", help="Exact number of tokens (lines) to write.")] = 4096,
    max_documents: Annotated[int, typer.Option("--max-documents", help="Use only the first N documents (0 = all).")]
    = 0,
) -> None:
    """Build a lower-cased WordPiece vocab (tensorflow-text's learner) with the BERT special tokens first."""
    from mbert_cli.data.corpus import load_documents  # noqa: PLC0415
    from mbert_cli.data.vocab import build_vocab  # noqa: PLC0415

    documents = load_documents(corpus, max_documents)
    with console().status(f"learning a {size}-token WordPiece vocab from {len(documents):,} documents..."):
        path = build_vocab(documents, size, out)
    console().print(f"wrote {path} ({size} tokens)")


class _progress_bar:  # noqa: N801 - a context manager yielding the progress callback
    """A rich progress bar with one line per stage, driven by (stage, done, total) calls."""

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415 - not loaded by `mbert --help` otherwise

        self._bar = Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console(), transient=False)
        self._bar.__enter__()
        self._tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in self._tasks:
                self._tasks[stage] = self._bar.add_task(stage, total=total)
            self._bar.update(self._tasks[stage], completed=done, total=total)

        return report

    def __exit__(self, *exc) -> bool:
        self._bar.__exit__(*exc)
        return False


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
