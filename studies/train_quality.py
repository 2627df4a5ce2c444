"""Nano quality at equal student steps: distilled (progressive / joint / auxiliary) vs from scratch.

    python -m studies.train_quality --out runs/bench-quality [--strategies progressive,joint]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench-quality")
    parser.add_argument("--teacher", default=None, help="existing teacher run to reuse")
    parser.add_argument("--teacher-steps", type=int, default=2400, help="teacher pre-training steps")
    parser.add_argument("--seeds", default="42,1", help="fine-tuning seeds, comma-separated")
    parser.add_argument("--strategies", default="progressive,joint,auxiliary")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="extra config override")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from mbert_cli.config import load_run_config, resolve_config
    from mbert_cli.training.evaluate import evaluate_run
    from mbert_cli.training.finetune import train_finetune
    from mbert_cli.training.student import train_student
    from mbert_cli.training.teacher import train_teacher

    out = Path(args.out)
    quiet = {"progress": False, "say": lambda *_: None}
    results: dict = {"sets": args.sets, "models": {}}
    teacher = Path(args.teacher) if args.teacher else out / "teacher"
    if not args.teacher:
        t = time.time()
        train_teacher(teacher, resolve_config("nano-teacher", None, args.sets + [f"train.steps={args.teacher_steps}"]),
                      **quiet)
        results["teacher_seconds"] = round(time.time() - t, 1)
    results["models"]["teacher"] = evaluate_run(teacher, "teacher")

    seeds = [int(s) for s in args.seeds.split(",") if s]

    def finetune(run: Path, init: Path | None) -> dict:
        accuracies, t = [], time.time()
        for seed in seeds:  # one fine-tune folder per seed, so each starts from the same weights
            target = run / f"finetune-seed{seed}"
            target.mkdir(parents=True, exist_ok=True)
            cfg = load_run_config(run) if init else resolve_config("nano-student", None, args.sets)
            cfg.seed = seed
            accuracies.append(train_finetune(target, cfg, init, "classification", **quiet)["eval"]["accuracy"])
        return {"sentiment_accuracy": sum(accuracies) / len(accuracies), "sentiment_runs": accuracies,
                "finetune_seconds": round((time.time() - t) / len(seeds), 1)}

    student_cfg = resolve_config("nano-student", None, args.sets)
    steps = student_cfg.encoder.num_layers * student_cfg.distill.steps_per_layer + student_cfg.distill.pretrain_distill_steps
    for strategy in [s for s in args.strategies.split(",") if s]:
        run = out / f"student-{strategy}"
        cfg = resolve_config("nano-student", None, args.sets + [f"distill.strategy={strategy}"])
        t = time.time()
        train_student(run, cfg, teacher, **quiet)
        row = {"train_seconds": round(time.time() - t, 1), "student_steps": steps}
        row.update({k: v for k, v in evaluate_run(run, "student").items() if k in ("mlm_accuracy", "perplexity",
                                                                                   "nsp_accuracy")})
        row.update(finetune(run, run / "student"))
        results["models"][f"distilled-{strategy}"] = row
        print(json.dumps({f"distilled-{strategy}": row}), flush=True)

    run = out / "scratch"
    cfg = resolve_config("nano-student", None, args.sets + [f"train.steps={steps}"])
    t = time.time()
    train_teacher(run, cfg, **quiet)  # the same MLM + NSP recipe, no teacher
    row = {"train_seconds": round(time.time() - t, 1), "student_steps": steps}
    row.update({k: v for k, v in evaluate_run(run, "teacher").items() if k in ("mlm_accuracy", "perplexity",
                                                                               "nsp_accuracy")})
    row.update(finetune(run, run / "teacher"))
    results["models"]["scratch"] = row
    print(json.dumps({"scratch": row}), flush=True)
    # The demo's baseline: the same student fine-tuned from random weights, no pre-training.
    results["models"]["random-init"] = finetune(out / "random-init", None)
    print(json.dumps(results, indent=2))
    (out / "quality.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
