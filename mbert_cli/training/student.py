"""`mbert train student`: layer-wise knowledge transfer, then pre-training distillation.

Per stage (see `stages.py`) a loss function and the variables it may change:
- `layer_<l>` (progressive): transfer loss of layer l only; layer l trained, layers below
  frozen (or soft-frozen by a second optimizer at `lower_layer_lr_scale` x the learning
  rate: with LAMB/Adam a smaller gradient would NOT mean a smaller step, so the scale is
  applied to the learning rate), embeddings frozen. Only layers 0..l are run.
- `joint`: mean of every layer's transfer loss; all transformer layers trained,
  embeddings frozen.
- `distill`: a*MLM + (1-a)*KD + NSP; the whole student trained.
- `auxiliary`: distill loss + mean of every layer's transfer loss; the whole student.
Each stage has its own LAMB optimizer (warm-up + decay over the stage) saved as
`optimizer_<stage>` in the student's checkpoints, so a resume inside a stage restores its
optimizer state and a new stage starts fresh.
"""

from __future__ import annotations

import time
from pathlib import Path

from mbert_cli.config.run import RunConfig
from mbert_cli.errors import MbertError
from mbert_cli.training.checkpoints import checkpoint_step, latest_checkpoint, restore, stage_checkpoint_path
from mbert_cli.training.distribute import check_batch, make_distribution
from mbert_cli.training.inputs import (
    ensure_pretraining_data,
    pretraining_dataset,
    replay_position,
    reuse_pretraining_data,
    skip_steps,
)
from mbert_cli.training.loop import Phase, Trainer, make_train_step
from mbert_cli.training.precision import precision_policy, run_policy
from mbert_cli.training.progress import Progress
from mbert_cli.training.run_dir import StageDir, write_json
from mbert_cli.training.session import RunGuard, build_pretrainer, model_inputs, seed_everything, weights_digest
from mbert_cli.training.stages import StageSpec, build_schedule, resolve_layer_map, schedule_record, stage_at


def check_teacher_compatible(teacher: RunConfig, student: RunConfig) -> list[int]:
    """Raises one clear MbertError when the teacher cannot teach this student; returns the layer map."""
    t, s = teacher.encoder, student.encoder

    def bad(what, tv, sv, hint):
        return MbertError(f"the teacher ({teacher.preset}) has {what} {tv} but the student ({student.preset}) has {sv}",
                          hint=hint)

    if t.kind != "mobilebert" or s.kind != "mobilebert":
        raise MbertError("layer-wise distillation needs MobileBERT-kind teacher and student encoders",
                         hint="use ib-bert-large/nano-teacher as teacher and a mobilebert/nano-student preset")
    if t.hidden_size != s.hidden_size:
        raise bad("feature-map width", t.hidden_size, s.hidden_size,
                  "feature-map transfer compares layer outputs: use a student with encoder.hidden_size equal to the teacher's")
    if t.num_heads != s.num_heads:
        raise bad("num_heads", t.num_heads, s.num_heads, "attention transfer compares heads one by one: use equal encoder.num_heads")
    if t.vocab_size != s.vocab_size:
        raise bad("vocabulary size", t.vocab_size, s.vocab_size, "teacher and student must use the same vocab (data.vocab)")
    if t.embedding_size != s.embedding_size:
        raise bad("embedding size", t.embedding_size, s.embedding_size,
                  "the student starts from the teacher's embedding: use equal encoder.embedding_size")
    if teacher.data.seq_len and t.max_sequence_length < student.data.seq_len:
        raise bad("max sequence length", t.max_sequence_length, student.data.seq_len, "lower data.seq_len")
    return resolve_layer_map(student.distill, s.num_layers, t.num_layers)


def _relative(name: str, anchor: str | None) -> str | None:
    """Variable name relative to its layer ('.../masked_lm/transform/dense/kernel:0' -> 'transform/dense/kernel')."""
    name = name.split(":")[0]
    parts = name.split("/")
    if anchor is None:
        return "/".join(parts[1:])
    if anchor in parts:
        return "/".join(parts[parts.index(anchor) + 1:])
    return None


def init_from_teacher(student, teacher, same_norm: bool) -> list[str]:
    """Copies the teacher's embedding, MLM head and NSP head into the student where shapes match.

    Tensors are matched by name, not by position (MG's `set_weights` on the embedding layer
    pairs weights by list order, and the LayerNorm and NoNorm layers list gamma/beta in
    opposite orders). The embedding norm is copied only when both use the same
    normalization: LayerNorm's gamma/beta scale a normalised vector, NoNorm's do not.
    Returns the copied tensors as '<part>/<name>'.
    """
    from mbert_cli.modeling.encoders import embedding_layer  # noqa: PLC0415

    copied = []
    parts = [("embedding", embedding_layer(student.encoder), embedding_layer(teacher.encoder), False),
             ("masked_lm", student.masked_lm, teacher.masked_lm, True),
             ("next_sentence", student.nsp_head, teacher.nsp_head, True)]
    for part, s_layer, t_layer, anchored in parts:
        # Keras makes layer names unique per process ('masked_lm_1'), so anchor on each layer's own name.
        t_vars = {_relative(v.name, t_layer.name if anchored else None): v for v in t_layer.weights}
        for v in s_layer.weights:
            rel = _relative(v.name, s_layer.name if anchored else None)
            if rel is None or rel not in t_vars or tuple(t_vars[rel].shape) != tuple(v.shape):
                continue
            if part == "embedding" and rel.startswith("embedding_norm") and not same_norm:
                continue
            v.assign(t_vars[rel])
            copied.append(f"{part}/{rel}")
    return sorted(set(copied))


def encoder_forward(encoder, batch: dict, upto: int, training: bool):
    """Embedding + transformer layers 0..upto of a MobileBERT encoder (MG's sub-encoder).

    Returns (hidden states [embedding, layer 0..upto], attention probabilities per layer),
    the same tensors the full encoder returns, without running the layers above `upto`.
    """
    from official.nlp.modeling.layers import SelfAttentionMask  # noqa: PLC0415

    from mbert_cli.modeling.encoders import embedding_layer, transformer_layers  # noqa: PLC0415

    mask = SelfAttentionMask()(batch["input_mask"], batch["input_mask"])
    x = embedding_layer(encoder)(batch["input_word_ids"], batch["input_type_ids"], training=training)
    hidden, attention = [x], []
    for layer in transformer_layers(encoder)[:upto + 1]:
        x, scores = layer(x, mask, return_attention_scores=True, training=training)
        hidden.append(x)
        attention.append(scores)
    return hidden, attention


def stage_variables(student, spec: StageSpec):
    """(trained variables, soft-frozen lower-layer variables) of one stage."""
    from mbert_cli.modeling.encoders import transformer_layers  # noqa: PLC0415

    layers = transformer_layers(student.encoder)
    if spec.kind == "layer":
        lower = [v for layer in layers[:spec.layer] for v in layer.trainable_variables]
        return list(layers[spec.layer].trainable_variables), lower
    if spec.kind == "joint":
        return [v for layer in layers for v in layer.trainable_variables], []
    return list(student.model.trainable_variables), []


class Distiller:
    """Builds each stage's loss function over a student and a frozen teacher."""

    def __init__(self, student, teacher, cfg: RunConfig, layer_map: list[int]):
        from mbert_cli.training.losses import TransferWeights  # noqa: PLC0415

        self.student, self.teacher, self.cfg, self.layer_map = student, teacher, cfg, layer_map
        d = cfg.distill
        self.weights = TransferWeights(d.attention_weight, d.hidden_mse_weight, d.beta_weight, d.gamma_weight)

    def _layers(self, spec: StageSpec) -> list[int]:
        return [spec.layer] if spec.kind == "layer" else list(range(self.cfg.encoder.num_layers))

    def teacher_fn(self, spec: StageSpec):
        """batch -> the frozen teacher's outputs this stage needs (run outside the gradient tape)."""
        if spec.kind in ("layer", "joint"):
            top = max(self.layer_map[i] for i in self._layers(spec))

            def fn(batch):
                hidden, attention = encoder_forward(self.teacher.encoder, batch, top, training=False)
                return {"hidden": hidden, "attention": attention}
            return fn

        def fn(batch):
            out = self.teacher.model(model_inputs(batch), training=False)
            keep = {"mlm_logits": out["mlm_logits"]}
            if spec.kind == "auxiliary":
                keep.update(hidden=list(out["encoder_outputs"]), attention=list(out["attention_scores"]))
            return keep
        return fn

    def loss_fn(self, spec: StageSpec):
        """(batch, teacher outputs) -> dict of loss terms with 'loss'."""
        from mbert_cli.training import losses  # noqa: PLC0415

        d = self.cfg.distill
        layers = self._layers(spec)

        def transfer(teacher, s_hidden, s_attn, mask):
            per = [losses.layer_transfer_loss(teacher["hidden"][self.layer_map[i] + 1], s_hidden[i + 1],
                                              teacher["attention"][self.layer_map[i]], s_attn[i], mask, self.weights)
                   for i in layers]
            return {k: sum(p[k] for p in per) / len(per) for k in per[0]}

        if spec.kind in ("layer", "joint"):
            def fn(batch, teacher):
                s_hidden, s_attn = encoder_forward(self.student.encoder, batch, max(layers), training=True)
                terms = transfer(teacher, s_hidden, s_attn, batch["input_mask"])
                terms["loss"] = terms.pop("transfer")
                return terms
            return fn

        def fn(batch, teacher):
            s_out = self.student.model(model_inputs(batch), training=True)
            terms = losses.distillation_loss(s_out, teacher, batch, d.mlm_weight, d.kd_temperature)
            if spec.kind == "auxiliary":
                aux = transfer(teacher, s_out["encoder_outputs"], s_out["attention_scores"], batch["input_mask"])
                terms.update(aux)
                terms["loss"] = terms["loss"] + aux["transfer"]
            return terms
        return fn


def train_student(run: str | Path, cfg: RunConfig, teacher_run: str | Path, *, distribution: str = "default",
                  progress: bool = True, say=print) -> dict:
    """Distils (or resumes distilling) the student into runs/NAME/student; returns a summary."""
    import tensorflow as tf  # noqa: PLC0415

    from mbert_cli.config import load_run_config  # noqa: PLC0415
    from mbert_cli.training.evaluate import evaluate_pretraining  # noqa: PLC0415
    from mbert_cli.training.optim import build_optimizer  # noqa: PLC0415

    run, teacher_run = Path(run), Path(teacher_run)
    started = time.time()
    teacher_cfg = load_run_config(teacher_run)
    layer_map = check_teacher_compatible(teacher_cfg, cfg)
    teacher_path = stage_checkpoint_path(teacher_run, "teacher", "latest")
    stages = build_schedule(cfg.distill, cfg.encoder.num_layers, layer_map)
    previous = latest_checkpoint(StageDir(run, "student").checkpoints)
    if previous:  # before any model is built: a changed schedule is a quick, clear error
        _check_same_schedule(run / "student" / "schedule.json", stages, checkpoint_step(previous))
    dist = make_distribution(distribution)
    per_replica = check_batch(cfg.distill.batch_size, dist, "distill.batch_size")
    with RunGuard(run, cfg, dist.is_chief):
        policy = run_policy(cfg.train.mixed_precision, say)
        if dist.is_chief and reuse_pretraining_data(teacher_run, run, teacher_cfg, cfg):
            say(f"Using the teacher's prepared data (copied from {teacher_run / 'data' / 'pretrain'}).")
        data_dir = ensure_pretraining_data(run, cfg, say)
        stage = StageDir(run, "student").make()
        seed_everything(cfg.seed)
        with dist.strategy.scope():
            with precision_policy(policy):
                student = build_pretrainer(cfg.encoder, name="student")
            teacher = build_pretrainer(teacher_cfg.encoder, name="teacher")  # frozen: float32
            step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        restore(tf.train.Checkpoint(model=teacher.model), teacher_path)
        teacher.model.trainable = False
        distiller = Distiller(student, teacher, cfg, layer_map)

        def on_checkpoint(step):
            if dist.is_chief:
                write_json(stage.path / "schedule.json", schedule_record(cfg.distill.strategy, stages, step, layer_map))

        trainer = Trainer(stage, student.model, step_var, dist, log_every=cfg.train.log_every,
                          checkpoint_every=cfg.train.checkpoint_every, examples_per_step=cfg.distill.batch_size,
                          progress=Progress(cfg.train.log_every, enabled=progress and dist.is_chief),
                          on_checkpoint=on_checkpoint)
        latest = latest_checkpoint(stage.checkpoints)
        step = checkpoint_step(latest) if latest else 0
        if latest:
            say(f"Resuming the student from {latest}: step {step}, stage "
                f"{stages[min(stage_at(stages, step), len(stages) - 1)].name}.")
        else:
            copied = init_from_teacher(student, teacher,
                                       teacher_cfg.encoder.normalization_type == cfg.encoder.normalization_type)
            if dist.is_chief:
                write_json(stage.path / "init.json", {"teacher": str(teacher_path), "copied": copied})
            say(f"Student initialised from {teacher_path}: {len(copied)} tensors copied (embedding, MLM and NSP heads).")
        on_checkpoint(step)

        def eval_fn():
            ds = pretraining_dataset(data_dir, cfg, "eval", per_replica, training=False)
            return evaluate_pretraining(student.model, ds, cfg.train.eval_steps)

        first = step
        resumed = latest is None
        for spec in stages[stage_at(stages, step):]:
            with dist.strategy.scope():
                trained, lower = stage_variables(student, spec)
                opt = build_optimizer(cfg.distill.optimizer, spec.steps, "lamb")
                groups, optimizers = [(opt, trained)], {f"optimizer_{spec.name}": opt}
                if lower and cfg.distill.lower_layer_lr_scale > 0:
                    low = build_optimizer(cfg.distill.optimizer, spec.steps, "lamb",
                                          lr_scale=cfg.distill.lower_layer_lr_scale)
                    groups.append((low, lower))
                    optimizers[f"optimizer_{spec.name}_lower"] = low
            if not resumed:
                trainer.resume(latest, optimizers)
                resumed = True

            # Each stage shuffles with its own seed (cfg.seed + its first step); a stage resumed
            # midway replays to where it stopped.
            seed_offset, skip = replay_position(int(step_var.numpy()) - spec.start, cfg.distill.batch_size, say)

            def train_input(ctx, spec=spec, seed_offset=seed_offset, skip=skip):
                ds = pretraining_dataset(data_dir, cfg, "train", ctx.get_per_replica_batch_size(cfg.distill.batch_size),
                                         training=True, input_context=ctx, seed=cfg.seed + spec.start + seed_offset)
                return skip_steps(ds, skip, ctx)

            iterator = iter(dist.strategy.distribute_datasets_from_function(train_input))
            step_fn = make_train_step(dist, iterator, distiller.loss_fn(spec), groups,
                                      cfg.distill.optimizer.clip_norm, step_var, targets_fn=distiller.teacher_fn(spec))
            evaluates = spec.kind in ("distill", "auxiliary")
            phase = Phase(spec.name, spec.start, spec.end, step_fn, optimizers,
                          eval_fn if evaluates else None, "mlm_accuracy" if evaluates else None)
            try:
                trainer.run(phase)
            except BaseException:
                trainer.close()
                raise
        trainer.close()
        final = eval_fn() if first < stages[-1].end else {}
    return {"stage": "student", "strategy": cfg.distill.strategy, "steps": stages[-1].end, "resumed_from": first,
            "seconds": round(time.time() - started, 1), "eval": final, "checkpoints": str(stage.checkpoints),
            "weights_sha256": weights_digest(student.model)}


def _check_same_schedule(path: Path, stages: list[StageSpec], step: int) -> None:
    """A resumed run must keep the stages it has already trained (same names and step ranges)."""
    from mbert_cli.training.run_dir import read_json  # noqa: PLC0415

    old = read_json(path)
    if not old:
        return
    done_old = [(r["name"], r["start"], r["end"]) for r in old.get("stages", []) if r["start"] < step]
    done_new = [(s.name, s.start, s.end) for s in stages if s.start < step]
    if done_old != done_new:
        raise MbertError(f"{path.parent} was distilled with another stage schedule ({old.get('strategy')}: "
                         f"{', '.join(n for n, _, _ in done_old)}) than this command gives",
                         hint="rerun with the same --strategy and distill.* steps, or use a new --run folder")


def check_frozen(before: dict, after: dict) -> list[str]:  # pragma: no cover - debugging aid
    """Names of variables that changed between two {name: array} snapshots."""
    import numpy as np  # noqa: PLC0415

    return [k for k in before if not np.array_equal(before[k], after[k])]


__all__ = ["train_student", "init_from_teacher", "check_teacher_compatible", "encoder_forward", "Distiller",
           "stage_variables", "MbertError"]
