"""Shared bits of the suite scripts: model arguments, --make-models, quiet TF logs."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="*", help=".tflite files (the first is the ratio baseline)")
    parser.add_argument("--make-models", action="store_true",
                        help="build random-weight stand-in encoders (seq 128) instead of passing files")
    parser.add_argument("--models-dir", default=None, help="where --make-models writes (default: a temp folder)")


def resolve_models(args: argparse.Namespace) -> list[str]:
    """The .tflite paths to measure: given ones, or freshly built stand-ins."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.models and not args.make_models:
        return list(args.models)
    if not args.make_models:
        raise SystemExit("pass .tflite files or --make-models")
    from benchmarks.suite.tiny_models import SUITE_SPECS, build_tiny_models  # noqa: PLC0415

    out = Path(args.models_dir or tempfile.mkdtemp(prefix="mbert-suite-"))
    built = build_tiny_models(out, seq_len=128, vocab=30522, specs=SUITE_SPECS)
    print(f"built stand-in models in {out}: " + ", ".join(m.path.name for m in built))
    return [str(m.path) for m in built]
