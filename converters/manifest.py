"""manifest.json beside the exported files: what each file is and how it was verified.

The benchmark side reads `files[*].mode` and `seq_len` (the longest length served);
`seq_lens`, `dynamic` and `signatures` (key, length, inputs/outputs, parity and task metric
per length) describe a file that serves several lengths; everything else is provenance.
Re-exporting into the same folder replaces the entries of files that were rewritten and
keeps the others.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tensorflow as tf

from mbert_cli import __version__
from mbert_cli.io_utils import atomic_write_text
from mbert_cli.runtime import load_runtime

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_commit(cwd: str | Path | None = None) -> dict:
    """The source tree's commit and dirty flag (None outside a git checkout)."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def versions() -> dict:
    """Converter, TensorFlow and runtime versions that produced and checked the files."""
    rt = load_runtime()
    return {"mbert": __version__, "tensorflow": tf.__version__, "converter": f"tf.lite.TFLiteConverter {tf.__version__}",
            "runtime": f"{rt.name} {rt.version}"}


def read_manifest(out_dir: str | Path) -> dict:
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}  # a broken manifest is replaced, not trusted


def write_manifest(out_dir: str | Path, header: dict[str, Any], entries: list[dict]) -> Path:
    """Merges `entries` (one per file, keyed by `file`) into out_dir/manifest.json atomically."""
    out_dir = Path(out_dir)
    old = read_manifest(out_dir)
    new_names = {e["file"] for e in entries}
    kept = [e for e in old.get("files", []) if e.get("file") not in new_names and (out_dir / e.get("file", "")).is_file()]
    manifest = {
        "schema_version": SCHEMA_VERSION,
        **header,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": sorted(kept + entries, key=lambda e: e["file"]),
    }
    path = out_dir / MANIFEST_NAME
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    return path
