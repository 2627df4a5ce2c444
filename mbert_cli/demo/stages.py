"""A demo stage as data, and the runner that skips what is already done.

A `Stage` names the stages it reads (`inputs`, references to the records themselves, so a
setting can never be mistaken for a stage), the `settings` that salt its hash, the
`artifact` that must exist for it to count as done, and the `action` that makes it. The
runner folds each input's hash and run id into the stage's own, so a changed setting or a
redone stage reruns exactly the stages downstream of it; a skipped stage's result comes
back from the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from mbert_cli.demo.results import Result
from mbert_cli.demo.state import Ledger, config_hash
from mbert_cli.errors import MbertError

R = TypeVar("R", bound=Result)


@dataclass(frozen=True, eq=False)
class Stage(Generic[R]):
    """One step of the demo: what it reads, what salts its hash, what it leaves, how it runs."""

    name: str
    result: type[R]  # what `action` returns (and how the ledger's JSON is read back)
    artifact: Path
    action: Callable[[Inputs], R]
    inputs: tuple[Stage, ...] = ()
    settings: Any = None  # JSON-able


@dataclass(frozen=True)
class StageRun:
    """A stage's result and how long it took (when it was made, for a skipped stage); `key` is
    what the stages that read it fold into their hashes: its own hash and the id of its run."""

    result: Result
    seconds: float
    skipped: bool
    key: str


@dataclass
class Inputs:
    """What an action may read: the runs of the stages it declared as inputs, nothing else."""

    runs: dict[str, StageRun] = field(default_factory=dict)

    def __getitem__(self, stage: Stage[R]) -> R:
        return self.runs[stage.name].result

    def seconds(self, stage: Stage) -> float:
        return self.runs[stage.name].seconds


def run_stages(stages: Sequence[Stage], ledger: Ledger, say: Callable[[str], None] = print) -> dict[str, StageRun]:
    """Runs `stages` in order (each after its inputs), skipping those done with the same hash."""
    runs: dict[str, StageRun] = {}
    for stage in stages:
        missing = [s.name for s in stage.inputs if s.name not in runs]
        if missing:
            raise ValueError(f"stage {stage.name} comes before its inputs {missing}")
        digest = config_hash(stage.name, [runs[s.name].key for s in stage.inputs], stage.settings)
        runs[stage.name] = _skip(stage, ledger, digest, say) or _run(stage, ledger, digest, runs, say)
    return runs


def _skip(stage: Stage, ledger: Ledger, digest: str, say) -> StageRun | None:
    """The stage's run from the ledger, if done with this hash, its artifact there and its result readable."""
    entry = ledger.done(stage.name, digest, stage.artifact)
    if entry is None:
        return None
    try:
        result = stage.result.from_json(entry["result"])
    except (TypeError, KeyError, ValueError):  # a result written by another version: redo the stage
        return None
    say(f"[{stage.name}] done earlier, skipped ({stage.artifact})")
    return StageRun(result, float(entry.get("seconds", 0.0)), skipped=True, key=f"{digest}:{entry['run_id']}")


def _run(stage: Stage, ledger: Ledger, digest: str, runs: dict[str, StageRun], say) -> StageRun:
    """Runs the action; a failed write (disk full, folder made read-only) becomes one line.

    Actions write through temporary names and checkpoints, and the ledger marks a stage only
    after it returns, so a failed stage leaves no artifact that looks finished.
    """
    say(f"[{stage.name}] running")
    started = time.time()
    try:
        result = stage.action(Inputs({s.name: runs[s.name] for s in stage.inputs}))
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        raise MbertError(f"stage {stage.name} stopped on a file-system error: {err.strerror or err}{where}",
                         hint="free some disk space (or fix the folder's permissions) and rerun the same "
                              "command: finished stages are skipped, this one resumes") from None
    seconds = time.time() - started
    run_id = ledger.mark(stage.name, digest, seconds, result.to_json())
    say(f"[{stage.name}] finished in {seconds:.1f}s")
    return StageRun(result, seconds, skipped=False, key=f"{digest}:{run_id}")
