"""Which demo stages are done: a small JSON ledger keyed by stage, with a config hash and
the stage's result.

A stage counts as done only when the ledger holds its result for the same hash *and* its
artifact is still on disk. The hash folds in the settings and the run ids of the stages it
reads, so deleting an artifact or changing a setting redoes the stage and every stage that
reads it, even across an interruption in between.
"""

from __future__ import annotations

import hashlib
import json
import uuid
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

    def done(self, stage: str, digest: str, artifact: Path) -> dict | None:
        """The stage's entry (hash, run_id, seconds, result) when it is done with this hash, else None."""
        entry = self.data.get("stages", {}).get(stage)
        if entry and entry.get("hash") == digest and {"result", "run_id"} <= entry.keys() and Path(artifact).exists():
            return dict(entry)
        return None

    def mark(self, stage: str, digest: str, seconds: float, result: dict) -> str:
        """Records the stage as done; returns the run's id (new on every run), which the stages
        that read this one fold into their hashes, so that redoing it redoes them."""
        run_id = uuid.uuid4().hex[:16]
        self.data.setdefault("stages", {})[stage] = {"hash": digest, "run_id": run_id, "seconds": round(seconds, 2),
                                                     "result": result}
        atomic_write_text(self.path, json.dumps(self.data, indent=2))
        return run_id
