"""Sentiment accuracy of the imported all-MiniLM-L6-v2 after `mbert train finetune --init`, over seeds.

    nice python -m studies.import_quality --out runs/bench-import-quality \\
        [--seeds 42,1,2] [--epochs 2] [--lr 4e-5] [--batch-size 16] [--seq-len 64] \\
        [--layer-decay 0.9] [--threads 2] [--no-group-by-length] [--float32] [--freeze-words]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

# Defaults: the fine-tuning settings `mbert import` writes into the run.
from mbert_cli.importing.importer import FINETUNE_SETTINGS


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench-import-quality")
    parser.add_argument("--seeds", default="42,1,2", help="fine-tuning seeds, comma-separated")
    parser.add_argument("--epochs", type=float, default=FINETUNE_SETTINGS["epochs"])
    parser.add_argument("--lr", type=float, default=FINETUNE_SETTINGS["learning_rate"], help="AdamW peak learning rate")
    parser.add_argument("--batch-size", type=int, default=FINETUNE_SETTINGS["batch_size"])
    parser.add_argument("--layer-decay", type=float, default=1.0,
                        help="layer-wise learning-rate decay (finetune.layer_lr_decay; 1 = off)")
    parser.add_argument("--seq-len", type=int, default=64, help="tokens per sentence (p90 of the task is 42)")
    parser.add_argument("--pooling", default="mean", choices=("mean", "cls"),
                        help="classifier input: mean of the tokens (as MiniLM was trained) or the pooled [CLS]")
    parser.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0 = TF's default)")
    parser.add_argument("--group-by-length", action=argparse.BooleanOptionalAction, default=True,
                        help="batches of similar lengths, trimmed to their longest sentence (as the demo does)")
    parser.add_argument("--float32", action="store_true",
                        help="train in float32 even where bfloat16 is fast (AMX CPUs, Ampere+ GPUs): its cost in accuracy")
    parser.add_argument("--freeze-words", action="store_true",
                        help="keep the word-embedding table as imported (finetune.freeze_word_embeddings)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    from mbert_cli.config import load_run_config
    from mbert_cli.importing.importer import import_checkpoint
    from mbert_cli.training.finetune import train_finetune

    out = Path(args.out)
    source = out / "minilm"
    if not (source / "config.yaml").is_file():
        import_checkpoint("minilm", source, say=lambda *_: None)
    settings = {"epochs": args.epochs, "learning_rate": args.lr, "batch_size": args.batch_size,
                "layer_lr_decay": args.layer_decay, "seq_len": args.seq_len, "pooling": args.pooling,
                "threads": args.threads or "default", "group_by_length": args.group_by_length,
                "mixed_precision": not args.float32, "freeze_word_embeddings": args.freeze_words}
    runs = []
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        target = out / f"finetune-seed{seed}"
        target.mkdir(parents=True, exist_ok=True)
        cfg = load_run_config(source)
        cfg.seed = seed
        cfg.data.seq_len = args.seq_len
        cfg.data.group_by_length = args.group_by_length
        cfg.train.mixed_precision = not args.float32
        cfg.encoder.classifier_pooling = args.pooling
        cfg.finetune.epochs, cfg.finetune.learning_rate = args.epochs, args.lr
        cfg.finetune.batch_size, cfg.finetune.layer_lr_decay = args.batch_size, args.layer_decay
        cfg.finetune.freeze_word_embeddings = args.freeze_words
        t = time.time()
        result = train_finetune(target, cfg, source / "teacher", "classification", progress=False,
                                say=lambda *_: None)
        row = {"seed": seed, "accuracy": result["eval"]["accuracy"], "examples": result["eval"]["examples"],
               "steps": result["steps"], "seconds": round(time.time() - t, 1)}
        runs.append(row)
        print(json.dumps(row), flush=True)
    accs = [r["accuracy"] for r in runs]
    results = {"model": "all-MiniLM-L6-v2 (mbert import minilm)", "task": "shipped sentence sentiment",
               "settings": settings, "runs": runs, "accuracy_mean": statistics.mean(accs),
               "accuracy_std": statistics.pstdev(accs)}
    print(json.dumps(results, indent=2))
    (out / "import_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
