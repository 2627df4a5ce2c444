"""`mbert predict MODEL.tflite "text" ...`: what the app will answer, from the file's own metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mbert_cli.cli.common import console, handles_errors


@handles_errors
def predict_cmd(
    model: Annotated[Path, typer.Argument(help="An app-ready .tflite (mbert export writes one by default).",
                                          show_default=False)],
    texts: Annotated[list[str] | None, typer.Argument(help="Sentences to classify or embed.",
                                                      show_default=False)] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="A UTF-8 file, one sentence per line.",
                                              show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per sentence on stdout.")] = False,
) -> None:
    """Classify (label + probabilities) or embed raw text with MediaPipe Tasks, as an app does."""
    from converters import app_runtime  # noqa: PLC0415

    sentences = list(texts or []) + (app_runtime.read_texts(file) if file is not None else [])
    app_runtime.check_texts(sentences)
    loaded = app_runtime.load(model)
    try:
        predictions = app_runtime.predict(loaded, sentences)
    finally:
        loaded.close()
    out = console()
    for p in predictions:
        if as_json:
            print(json.dumps(p.to_dict(), ensure_ascii=False))
        elif p.embedding is not None:
            d = p.to_dict()
            head = ", ".join(f"{x:.4f}" for x in p.embedding[:4])
            out.print(f"norm {d['norm']:.4f}  [{head}, ...] ({len(p.embedding)} values)  {p.text}", markup=False)
        else:
            scores = "  ".join(f"{k} {v:.3f}" for k, v in p.scores.items())
            out.print(f"{p.label}  ({scores})  {p.text}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_cmd)
