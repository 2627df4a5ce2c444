"""`mbert train finetune --task squad`: span extraction with AdamW; EM/F1 with the official normalisation.

Data: `shipped` builds SQuAD-v1.1-style questions from the shipped plays
(`data.squad.make_squad_from_corpus`, train and dev splits, written once under
runs/NAME/data/squad/); a path is a SQuAD JSON file, split 90/10 by question when no
`dev` file sits beside it (`train.json` -> `dev.json`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from mbert_cli.config.run import RunConfig
from mbert_cli.errors import MbertError
from mbert_cli.training.checkpoints import stage_checkpoint_path
from mbert_cli.training.distribute import check_batch, make_distribution
from mbert_cli.training.inputs import replay_position, skip_steps
from mbert_cli.training.loop import Phase, make_train_step
from mbert_cli.training.precision import precision_policy, run_policy
from mbert_cli.training.run_dir import StageDir, write_json
from mbert_cli.training.session import (
    MODEL_INPUTS,
    RunGuard,
    build_pretrainer,
    model_inputs,
    seed_everything,
    weights_digest,
)


def load_squad_splits(cfg: RunConfig, data: str | None, run: Path | None = None):
    """(train examples, dev examples) for `data` ('shipped' or a SQuAD JSON path)."""
    from mbert_cli.data.squad import load_squad, make_squad_from_corpus  # noqa: PLC0415

    spec = data or cfg.data.task_data
    limit = cfg.finetune.max_examples
    if spec == "shipped":
        folder = Path(run or ".") / "data" / "squad"
        paths = {}
        for split in ("train", "dev"):
            paths[split] = folder / f"{split}.json"
            if not paths[split].is_file():
                make_squad_from_corpus(split, limit, out_path=paths[split])
        train, dev = load_squad(paths["train"]), load_squad(paths["dev"])
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise MbertError(f"SQuAD data not found: {path}", hint="pass a SQuAD v1.1/v2.0 JSON file with --data")
        examples = load_squad(path)
        dev_path = path.with_name(path.name.replace("train", "dev"))
        if dev_path != path and dev_path.is_file():
            train, dev = examples, load_squad(dev_path)
        else:
            cut = max(1, int(len(examples) * 0.9))
            train, dev = examples[:cut], examples[cut:]
    if limit:
        train, dev = train[:limit], dev[:limit]
    if not train or not dev:
        raise MbertError(f"the SQuAD data {spec} has no training or no evaluation questions",
                         hint="use a file with more questions")
    return train, dev


def squad_tokenizer(cfg: RunConfig):
    from mbert_cli.data.tokenizer import WordPieceTokenizer  # noqa: PLC0415
    from mbert_cli.data.vocab import resolve_vocab  # noqa: PLC0415

    tok = WordPieceTokenizer(resolve_vocab(cfg.data.vocab, cfg.encoder.vocab_size))
    if tok.vocab_size != cfg.encoder.vocab_size:
        raise MbertError(f"the tokenizer vocabulary has {tok.vocab_size} tokens but the model has "
                         f"{cfg.encoder.vocab_size}", hint="use the vocab the model was trained with (data.vocab)")
    return tok


def squad_scores(cfg: RunConfig, model, examples, features, batch_size: int = 32) -> dict:
    """EM/F1 (in %) of `model` on examples, via the official-normalisation scorer."""
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    from mbert_cli.data.squad import postprocess_predictions, squad_dataset, squad_metrics  # noqa: PLC0415

    @tf.function
    def predict(inputs):
        out = model(model_inputs(inputs, MODEL_INPUTS), training=False)
        return out["start_logits"], out["end_logits"]

    starts, ends = [], []
    for inputs in squad_dataset(features, batch_size, training=False):
        s, e = predict(inputs)
        starts.append(s.numpy())
        ends.append(e.numpy())
    predictions = postprocess_predictions(examples, features, np.concatenate(starts), np.concatenate(ends))
    return {**squad_metrics(predictions, examples), "questions": len(examples)}


def evaluate_squad(cfg: RunConfig, model, data: str | None, run: Path | None = None) -> dict:
    from mbert_cli.data.squad import squad_features  # noqa: PLC0415

    _, dev = load_squad_splits(cfg, data, run)
    features = squad_features(dev, squad_tokenizer(cfg), cfg.data.seq_len, cfg.finetune.doc_stride,
                              cfg.finetune.max_query_length)
    return squad_scores(cfg, model, dev, features)


def train_squad(run: str | Path, cfg: RunConfig, init: str | Path, *, data: str | None = None,
                distribution: str = "default", progress: bool = True, say=print) -> dict:
    """Fine-tunes the span labeler from `init`; best checkpoint by dev F1."""
    import tensorflow as tf  # noqa: PLC0415

    from mbert_cli.data.squad import squad_dataset, squad_features  # noqa: PLC0415
    from mbert_cli.modeling.models import build_span_labeler  # noqa: PLC0415
    from mbert_cli.training.finetune import resume_or_init, split_init, task_optimizer, task_trainer  # noqa: PLC0415

    run = Path(run)
    started = time.time()
    init_run, init_stage = split_init(init)
    init_path = stage_checkpoint_path(init_run, init_stage, "latest")
    ft = cfg.finetune
    cfg.finetune.task = "squad"
    if data:
        cfg.data.task_data = str(data)
    dist = make_distribution(distribution)
    per_replica = check_batch(ft.batch_size, dist, "finetune.batch_size")
    with RunGuard(run, cfg, dist.is_chief):
        train, dev = load_squad_splits(cfg, data, run)
        tok = squad_tokenizer(cfg)
        train_f = squad_features(train, tok, cfg.data.seq_len, ft.doc_stride, ft.max_query_length)
        dev_f = squad_features(dev, tok, cfg.data.seq_len, ft.doc_stride, ft.max_query_length)
        steps = ft.steps or max(1, math.ceil(ft.epochs * len(train_f) / ft.batch_size))
        stage = StageDir(run, "finetune-squad").make()
        seed_everything(cfg.seed)
        policy = run_policy(cfg.train.mixed_precision, say)
        with dist.strategy.scope():
            with precision_policy(policy):
                pm = build_pretrainer(cfg.encoder)
                model, _ = build_span_labeler(cfg.encoder, encoder=pm.encoder)
            step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            opt = task_optimizer(cfg, steps)
        trainer = task_trainer(cfg, stage, model, step_var, dist, progress)
        latest = resume_or_init(trainer, stage, opt, pm, init_path)
        if latest:
            say(f"Resuming SQuAD fine-tuning from {latest} (step {int(step_var.numpy())}/{steps}).")
        else:
            say(f"Fine-tuning squad from {init_path} ({len(train_f)} train windows, {len(dev)} dev questions).")
        if dist.is_chief:
            write_json(stage.path / "task.json", {"task": "squad", "init": str(init_path), "steps": steps})
        first = int(step_var.numpy())

        seed_offset, skip = replay_position(first, ft.batch_size, say)

        def train_input(ctx):
            ds = squad_dataset(train_f, ctx.get_per_replica_batch_size(ft.batch_size), True, cfg.seed + seed_offset)
            ds = ds.repeat()
            if ctx.num_input_pipelines > 1:
                ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
            return skip_steps(ds, skip, ctx)

        iterator = iter(dist.strategy.distribute_datasets_from_function(train_input))

        def loss_fn(batch):
            inputs, labels = batch
            out = model(model_inputs(inputs, MODEL_INPUTS), training=True)
            start = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels["start_positions"],
                                                                   logits=tf.cast(out["start_logits"], tf.float32))
            end = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels["end_positions"],
                                                                 logits=tf.cast(out["end_logits"], tf.float32))
            loss = 0.5 * (tf.reduce_mean(start) + tf.reduce_mean(end))
            return {"loss": loss, "start_loss": tf.reduce_mean(start), "end_loss": tf.reduce_mean(end)}

        def eval_fn():
            return squad_scores(cfg, model, dev, dev_f, per_replica)

        step_fn = make_train_step(dist, iterator, loss_fn, [(opt, model.trainable_variables)],
                                  cfg.train.optimizer.clip_norm, step_var)
        phase = Phase("finetune-squad", 0, steps, step_fn, {"optimizer": opt}, eval_fn, best_metric="f1")
        try:
            trainer.run(phase)
        finally:
            trainer.close()
        final = eval_fn()
    return {"stage": "finetune-squad", "steps": steps, "resumed_from": first,
            "seconds": round(time.time() - started, 1), "eval": final, "checkpoints": str(stage.checkpoints),
            "weights_sha256": weights_digest(model)}
