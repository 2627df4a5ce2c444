"""Which demo stages are done: a small JSON ledger keyed by stage, with a config hash.

A stage counts as done only when the ledger says so for the same config hash *and* its
artifact is still on disk, so deleting an artifact or changing a setting redoes the stage
(and, through the hash chain, every stage after it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mbert_cli.io_utils import atomic_write_text

LEDGER = "demo_state.json"


def config_hash(*parts: Any) -> str:
    """A stable short hash of JSON-able parts (configs, upstream hashes, options)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Ledger:
    """Reads and writes `<root>/demo_state.json` atomically."""

    def __init__(self, root: Path):
        self.path = Path(root) / LEDGER
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.data = {}  # a damaged ledger only costs a redo

    def done(self, stage: str, digest: str, artifact: Path) -> bool:
        entry = self.data.get("stages", {}).get(stage)
        return bool(entry) and entry.get("hash") == digest and Path(artifact).exists()

    def mark(self, stage: str, digest: str, seconds: float, info: dict | None = None) -> None:
        self.data.setdefault("stages", {})[stage] = {"hash": digest, "seconds": round(seconds, 2),
                                                     **(info or {})}
        atomic_write_text(self.path, json.dumps(self.data, indent=2, default=str))

    def info(self, stage: str) -> dict:
        return dict(self.data.get("stages", {}).get(stage, {}))
