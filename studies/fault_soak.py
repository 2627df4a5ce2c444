"""Fault soak: the nano chain killed at N random points (SIGKILL and SIGTERM) ends as if never stopped.

    python -m studies.fault_soak [--kills 10] [--seed 0] [--work DIR] [--json OUT]

Exact equality with the uninterrupted chain is the claim: a resumed stage reads the same
examples in the same order, and the chain turns dropout off (the classifier head's through
`--child`, which builds it with rate 0 before running the command).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

TINY = ["data.corpus=synthetic", "data.task_data=synthetic", "data.seq_len=32", "data.max_predictions_per_seq=5",
        "encoder.num_layers=2", "encoder.hidden_dropout=0.0", "train.batch_size=8", "distill.batch_size=8",
        "finetune.batch_size=8", "train.log_every=5", "train.checkpoint_every=10", "train.eval_steps=2"]


# "Resuming the teacher from ... (step 7/60)", "... student from ...: step 21, stage ...".
RESUMED = re.compile(r"^Resuming .*?step (\d+)", re.M)


def chain(work: Path, scale: int = 1) -> list[tuple[str, list[str]]]:
    """The nano chain's commands (mbert arguments), in order."""
    t, s = work / "teacher", work / "student"
    sets = lambda *extra: [a for item in TINY + list(extra) for a in ("--set", item)]  # noqa: E731
    return [
        ("teacher", ["train", "teacher", "--preset", "nano-teacher", "--run", str(t), "--no-progress",
                     *sets(f"train.steps={60 * scale}")]),
        ("student", ["train", "student", "--preset", "nano-student", "--teacher", str(t), "--run", str(s),
                     "--no-progress", *sets(f"distill.steps_per_layer={10 * scale}",
                                            f"distill.pretrain_distill_steps={20 * scale}")]),
        # The shipped sentiment task (a few thousand rows), so the exported files' accuracy means something.
        ("finetune", ["train", "finetune", "--task", "classification", "--init", str(s / "student"), "--run", str(s),
                      "--no-progress", *sets("data.task_data=shipped", "finetune.max_examples=3000",
                                             f"finetune.steps={60 * scale}")]),
        ("export", ["export", "--run", str(s), "--from", "finetune-classification", "--quantize", "none", "int8",
                    "--seq-len", "32", "--representative", "16", "--metric-examples", "64", "--max-drop", "100"]),
    ]


@dataclass
class Kill:
    command: str
    at_s: float  # seconds into that process
    signal: str
    exit_code: int | None
    resumed_from: int | None = None  # the step the next run of a training command started at


@dataclass
class ChainResult:
    seconds: float
    finetune_digest: str | None
    files: dict[str, dict] = field(default_factory=dict)  # file -> sha256, accuracy
    durations: dict[str, float] = field(default_factory=dict)  # command -> seconds, restarts included
    kills: list[Kill] = field(default_factory=list)
    runs: int = 0
    leftover_temp_files: list[str] = field(default_factory=list)


def _child_argv(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "studies.fault_soak", "--child", "--", *args]


def _summary(stdout: str) -> dict:
    try:
        return json.loads(stdout[stdout.index("{"):])
    except ValueError:
        return {}


def run_chain(work: Path, kills: list[tuple[str, float, str]] | None = None, scale: int = 1,
              log=print) -> ChainResult:
    """Runs the chain; `kills` [(command, seconds of that command's clock, SIGKILL|SIGTERM)] kill and rerun.

    A command's clock is the time spent in its runs so far (restarts included), so each
    command gets the kills drawn for it however long the earlier ones took.
    """
    # Unbuffered, so a SIGKILLed run still shows what it printed (the "Resuming ... step N" line).
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    result = ChainResult(seconds=0.0, finetune_digest=None)
    for name, args in chain(work, scale):
        pending = sorted((at, sig) for cmd, at, sig in kills or [] if cmd == name)
        clock = 0.0
        while True:
            result.runs += 1
            t0 = time.monotonic()
            proc = subprocess.Popen(_child_argv(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            kill = None
            while proc.poll() is None:
                if pending and clock + time.monotonic() - t0 >= pending[0][0]:
                    _, sig = pending.pop(0)
                    proc.send_signal(getattr(signal, sig))
                    kill = Kill(name, round(time.monotonic() - t0, 2), sig, None)
                    break
                time.sleep(0.05)
            out, err = proc.communicate()
            clock += time.monotonic() - t0
            last = result.kills[-1] if result.kills else None
            if last is not None and last.command == name and last.resumed_from is None:
                resumed = RESUMED.search(out)  # printed before any step, so a killed run has it too
                last.resumed_from = int(resumed.group(1)) if resumed else 0
            if kill is not None:
                kill.exit_code = proc.returncode
                result.kills.append(kill)
                log(f"  killed {name} at {kill.at_s:.1f} s with {kill.signal}: exit {proc.returncode}"
                    + (f" ({err.strip().splitlines()[-1]})" if err.strip() else ""))
                if proc.returncode != 0:
                    continue  # rerun the same command
                kill.resumed_from = -1  # the signal came as it finished: nothing to resume
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{err[-2000:]}")
            for at, sig in pending:  # the command finished before its clock reached these
                result.kills.append(Kill(name, round(at, 2), sig, None, resumed_from=-1))
                log(f"  missed: {name} finished before {at:.1f} s ({sig})")
            summary = _summary(out)
            if name == "finetune":
                result.finetune_digest = summary.get("weights_sha256")
            result.durations[name] = round(clock, 1)
            break
    manifest = json.loads((work / "student" / "export" / "manifest.json").read_text())
    result.files = {e["file"]: {"sha256": e.get("sha256"), "accuracy": (e.get("task_metric") or {}).get("tflite")}
                    for e in manifest["files"]}
    result.leftover_temp_files = sorted(str(p.relative_to(work)) for p in work.rglob(".*tmp*"))
    result.seconds = round(time.monotonic() - started, 1)
    return result


def draw_kills(n: int, durations: dict[str, float], seed: int) -> list[tuple[str, float, str]]:
    """N kill points uniform over the reference chain's time line, each mapped to (command,
    seconds into that command); half SIGKILL, half SIGTERM, shuffled."""
    rng = random.Random(seed)
    signals = ["SIGKILL", "SIGTERM"] * ((n + 1) // 2)
    rng.shuffle(signals)
    order = list(durations)
    out = []
    for i in range(n):
        t = rng.uniform(0.0, sum(durations.values()))
        for name in order:
            if t < durations[name] or name == order[-1]:
                out.append((name, round(max(0.5, min(t, durations[name])), 2), signals[i]))
                break
            t -= durations[name]
    return sorted(out, key=lambda k: (order.index(k[0]), k[1]))


def soak(work: Path, kills: int, seed: int, scale: int = 1, log=print) -> dict:
    """Reference chain, then the faulted one; returns the comparison (`equal` is the verdict)."""
    log("reference chain (no faults) ...")
    reference = run_chain(work / "reference", scale=scale, log=log)
    log(f"  {reference.seconds} s; fine-tune weights {reference.finetune_digest}")
    points = draw_kills(kills, reference.durations, seed)
    log(f"faulted chain: {kills} kills at (command, seconds of its clock) {[(c, t) for c, t, _ in points]} ...")
    faulted = run_chain(work / "faulted", points, scale=scale, log=log)
    landed = [k for k in faulted.kills if k.exit_code is not None]
    equal = faulted.finetune_digest == reference.finetune_digest and faulted.files == reference.files
    return {"kills_asked": kills, "kills_landed": len(landed), "seed": seed, "equal": equal,
            "reference": asdict(reference), "faulted": asdict(faulted)}


def _run_child(argv: list[str]) -> None:
    """Runs one mbert command with the classifier head's dropout at 0 (see the module docstring)."""
    import functools

    from mbert_cli.modeling import models

    models.build_classifier = functools.partial(models.build_classifier, dropout=0.0)
    from mbert_cli.cli.app import app

    app(argv, prog_name="mbert")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _run_child(argv[2:] if argv[1:2] == ["--"] else argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m studies.fault_soak", description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="kill points (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill points (default 0)")
    parser.add_argument("--work", default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the comparison here")
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    import tempfile

    work = Path(args.work or tempfile.mkdtemp(prefix="mbert-soak-"))
    report = soak(work, args.kills, args.seed)
    f = report["faulted"]
    print(f"\n{'command':<9} {'at s':>6}  {'signal':<8} {'exit':>5}  resumed from step")
    for k in f["kills"]:
        print(f"{k['command']:<9} {k['at_s']:>6.1f}  {k['signal']:<8} {str(k['exit_code']):>5}  {k['resumed_from']}")
    ref = report["reference"]
    print(f"\nreference: {ref['seconds']} s, {ref['runs']} runs {ref['durations']}; faulted: {f['seconds']} s, "
          f"{f['runs']} runs, {report['kills_landed']} of {report['kills_asked']} kills landed")
    print(f"fine-tune weights: reference {ref['finetune_digest']}  faulted {f['finetune_digest']}")
    for name, ref_file in ref["files"].items():
        got = f["files"].get(name, {})
        print(f"{name}: accuracy {ref_file['accuracy']} vs {got.get('accuracy')}; sha256 "
              f"{'equal' if got.get('sha256') == ref_file['sha256'] else 'DIFFERENT'}")
    print(f"temp files left by SIGKILL: {len(f['leftover_temp_files'])} {f['leftover_temp_files'][:5]}")
    print("RESULT:", "equal to the uninterrupted run" if report["equal"] else "DIFFERENT")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
