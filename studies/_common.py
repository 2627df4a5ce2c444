"""Shared bits of the suite scripts: model arguments, --make-models / --tiny, quiet TF logs."""

from __future__ import annotations

import argparse
import os

from studies import _models


def model_args(parser: argparse.ArgumentParser, default_make: bool = False) -> None:
    """Adds `models`, `--make-models`, `--tiny`, `--models-dir`.

    `default_make`: with no files given, build the models rather than stop (scripts that
    `make bench` should run with no arguments).
    """
    parser.add_argument("models", nargs="*", help=".tflite files (the first is the ratio baseline)")
    parser.add_argument("--make-models", action="store_true",
                        help="export random-weight real presets (bert-base float32, mobilebert "
                             "float32/dynamic/int8, seq 128) through converters.convert; cached")
    parser.add_argument("--tiny", action="store_true",
                        help="with --make-models: nano presets at seq 64 instead (seconds, for smoke runs)")
    parser.add_argument("--models-dir", default=None,
                        help=f"cache folder for built models (default {_models.DEFAULT_CACHE}, "
                             "or $MBERT_BENCH_CACHE)")
    parser.set_defaults(default_make=default_make)


def resolve_models(args: argparse.Namespace, variants=None, tiny_variants=None) -> list[str]:
    """The .tflite paths to measure: given ones, or the cached/built presets.

    `variants`/`tiny_variants` narrow what is built (default: the whole comparison).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.models and not (args.make_models or args.tiny):
        return list(args.models)
    if not (args.make_models or args.tiny or getattr(args, "default_make", False)):
        raise SystemExit("pass .tflite files or --make-models (--tiny for nano models)")
    if args.tiny:
        chosen, seq = tiny_variants or _models.TINY_VARIANTS, _models.TINY_SEQ_LEN
    else:
        chosen, seq = variants or _models.SUITE_VARIANTS, _models.SUITE_SEQ_LEN
    built = _models.build_variants(chosen, args.models_dir, seq_len=seq)
    print(f"models ({'nano, ' if args.tiny else ''}seq {seq}, random weights) in {built[0].path.parent}: "
          + ", ".join(b.path.name for b in built), flush=True)
    return [str(b.path) for b in built]
