"""What distilling from the real teacher is worth: the demo's student arms over fine-tune seeds.

    nice python -m studies.demo_quality --demo runs/demo --out runs/bench-demo-quality \\
        [--seeds 42,1,2] [--arms full,task-only,scratch] [--strategies joint,auxiliary]
        [--distill-set distill.steps_per_layer=100 --distill-set distill.pretrain_distill_steps=400 --tag -x4]
        [--finetune-set finetune.epochs=1 --arm-tag _e1]

Arms: `full` (the demo's student: layer-wise + pre-training distillation, then soft labels),
`task-only` (random weights + soft labels), `scratch` (random weights, labels only: the
demo's control), and one per `--strategies` entry (a student distilled that way, then soft labels).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ARMS = ("full", "task-only", "scratch")


def _finetune(out: Path, cfg, init, distill_from, seed: int) -> dict:
    from mbert_cli.training.finetune import train_finetune

    out.mkdir(parents=True, exist_ok=True)
    cfg.seed = seed
    started = time.time()
    result = train_finetune(out, cfg, init, "classification", distill_from=distill_from, progress=False,
                            say=lambda *_: None)
    return {"accuracy": 100 * result["eval"]["accuracy"], "examples": result["eval"]["examples"],
            "steps": result["steps"], "seconds": round(time.time() - started, 1)}


def _distil(out: Path, demo: Path, strategy: str, overrides: tuple[str, ...] = (), tag: str = "") -> Path:
    """A student distilled from the demo's imported teacher with `strategy` (and `overrides`),
    else as the demo does."""
    from mbert_cli.config import load_run_config
    from mbert_cli.config.resolve import apply_overrides
    from mbert_cli.training.student import train_student

    run = out / f"student-{strategy}{tag}"
    if not (run / "student" / "summary.json").is_file():
        cfg = load_run_config(demo / "student")  # a fresh copy: changing it changes no file
        cfg.distill.strategy = strategy
        apply_overrides(cfg, overrides=overrides)
        train_student(run, cfg, demo / "teacher", progress=False, say=lambda *_: None)
    return run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", default="runs/demo", help="a finished `mbert demo` folder (MiniLM teacher)")
    parser.add_argument("--out", default="runs/bench-demo-quality")
    parser.add_argument("--seeds", default="42,1,2", help="fine-tuning seeds, comma-separated")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--strategies", default="", help="distillation strategies to compare, e.g. "
                                                         "progressive,joint,auxiliary ('' = none)")
    parser.add_argument("--distill-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override for the --strategies students' distillation, e.g. "
                             "distill.pretrain_distill_steps=400 (repeatable)")
    parser.add_argument("--tag", default="", help="suffix of the --strategies arms' names and folders")
    parser.add_argument("--finetune-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override for every arm's fine-tuning, on top of the demo's settings, e.g. "
                             "finetune.epochs=1 (repeatable)")
    parser.add_argument("--arm-tag", default="", help="suffix of every arm's name and folder (with --finetune-set)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mbert_cli.config import load_run_config, resolve_config
    from mbert_cli.config.resolve import apply_overrides

    demo, out = Path(args.demo), Path(args.out)
    if not (demo / "summary.json").is_file():
        raise SystemExit(f"{demo} holds no finished demo: run `mbert demo --run {demo}` first")
    student_cfg = load_run_config(demo / "student")
    teacher = demo / "teacher"
    seeds = [int(s) for s in args.seeds.split(",") if s]
    arms = [a for a in args.arms.split(",") if a]
    plan = []
    for arm in arms:
        if arm == "full":
            plan.append((arm, demo / "student" / "student", teacher))
        elif arm == "task-only":
            plan.append((arm, None, teacher))
        elif arm == "scratch":
            plan.append((arm, None, None))
        else:
            raise SystemExit(f"unknown arm {arm!r}: choose from {', '.join(ARMS)}")
    for strategy in [s for s in args.strategies.split(",") if s]:
        run = _distil(out, demo, strategy, tuple(args.distill_set), args.tag)
        plan.append((strategy + args.tag, run / "student", teacher))

    runs = []
    for arm, init, distill_from in plan:
        for seed in seeds:
            cfg = resolve_config(student_cfg.preset)
            cfg.data, cfg.finetune = student_cfg.data, student_cfg.finetune  # the demo's settings
            apply_overrides(cfg, overrides=args.finetune_set)
            name = arm + args.arm_tag
            row = {"arm": name, "seed": seed, **_finetune(out / f"{name}-seed{seed}", cfg, init, distill_from, seed)}
            runs.append(row)
            print(json.dumps(row), flush=True)
    summary = {}
    for arm in dict.fromkeys(r["arm"] for r in runs):
        accs = [r["accuracy"] for r in runs if r["arm"] == arm]
        summary[arm] = {"mean": round(statistics.mean(accs), 2), "std": round(statistics.pstdev(accs), 2),
                        "runs": len(accs)}
    teacher_acc = json.loads((demo / "summary.json").read_text())["accuracy_tf"]
    results = {"demo": str(demo), "seeds": seeds, "split": "whole validation split, TensorFlow",
               "demo_accuracies": teacher_acc, "arms": summary, "runs": runs}
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    for arm, s in summary.items():
        print(f"{arm:>12}: {s['mean']:.2f} +- {s['std']:.2f} % ({s['runs']} seeds)")
    return results


if __name__ == "__main__":
    main()
