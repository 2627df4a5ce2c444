"""Checks a `.tflite` path before anything loads it, and describes it for the result.

A runtime handed a truncated or foreign file may crash the process or print an opaque
flatbuffer error; checking the `TFL3` identifier and the root offset first turns those
into one line naming the file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from benchmarks.result import ModelInfo
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import sha256_file

_IDENTIFIER = b"TFL3"
# Smallest flatbuffer that can hold a model table: root offset + identifier + a vtable.
_MIN_BYTES = 16


def check_tflite(path: str | Path) -> Path:
    """Raises MbertError unless `path` is a readable, non-empty TFLite flatbuffer.

    Returns:
        The path as a Path.
    """
    p = Path(path)
    if not p.exists():
        raise MbertError(f"model file not found: {p}", hint="check the path; export writes runs/NAME/export/<stage>_<mode>_seq<N>.tflite")
    if p.is_dir():
        raise MbertError(f"{p} is a folder, not a .tflite file", hint="pass the .tflite file inside it")
    size = p.stat().st_size
    if size == 0:
        raise MbertError(f"model file is empty: {p}", hint="re-run `mbert export`; the file was never written")
    with p.open("rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or head[4:8] != _IDENTIFIER:
        raise MbertError(
            f"{p} is not a TFLite model (no 'TFL3' identifier at bytes 4..8)",
            hint="pass a .tflite flatbuffer written by `mbert export` or the TFLite converter",
        )
    root = struct.unpack("<I", head[:4])[0]
    if size < _MIN_BYTES or root + 4 > size:
        raise MbertError(
            f"model file is truncated: {p} ({size} bytes, root table at offset {root})",
            hint="the copy or export was interrupted; re-export or copy the file again",
        )
    return p


def describe_model(path: str | Path) -> ModelInfo:
    """Checks the file and returns its identity plus mode / seq len from a sibling manifest.json."""
    p = check_tflite(path)
    mode, seq_len = _manifest_entry(p)
    return ModelInfo(path=str(p), name=p.stem, size_bytes=p.stat().st_size, sha256=sha256_file(p),
                     mode=mode, seq_len=seq_len)


def _manifest_entry(p: Path) -> tuple[str | None, int | None]:
    """Looks the file up in `manifest.json` beside it; tolerant: any problem means unknown."""
    manifest = p.parent / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None, None
    files = data.get("files") if isinstance(data, dict) else None
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict) and Path(str(entry.get("file", ""))).name == p.name:
            seq = entry.get("seq_len")
            return entry.get("mode"), int(seq) if isinstance(seq, (int, float)) else None
    # Single-model manifests may carry mode/seq_len at the top level.
    if isinstance(data, dict) and data.get("file") == p.name:
        return data.get("mode"), data.get("seq_len")
    return None, None
