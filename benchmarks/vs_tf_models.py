"""mbert's fine-tune step against tf-models-official's own trainer: same model, weights, batches, optimizer.

Issue 35 asks whether `mbert train finetune` is as fast per step as what a user would pick
instead: tf-models' `official.core.base_trainer.Trainer` (what `train_lib.run_experiment`
drives) with a `SentencePredictionTask` and its `BertClassifier`. Both paths are built in
one process over the same encoder config, with the tf-models model's weights copied from
mbert's (the imported MiniLM by default), and both read the same length-grouped batches
of the shipped task, taken once from mbert's own input pipeline. The timing alternates
rounds (mbert, then tf-models, K steps each) so load on a shared machine hits both alike;
the ratio is the median of the per-round ratios.

What each side runs, and nothing else:
- mbert: `ClassificationTask` (training/finetune.py) builds model, AdamW groups and loss;
  `loop.make_train_step` builds the step; each step is called and its terms read to floats,
  as `loop.Trainer.run` does (checkpoints, logging and evaluation are left out).
- tf-models: `train_utils.create_trainer` (task.build_model + the task's optimizer), then
  `Trainer.train(K)`: orbit's tf.while_loop over `Trainer.train_step` -> `Task.train_step`
  with its train metrics, as `train_lib` runs it with `steps_per_loop=K`.

    python -m benchmarks.vs_tf_models [--rounds 5 --steps 20 --source minilm]
    python -m benchmarks.vs_tf_models --embedding-update   # the word-embedding update alone, both ways
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tensorflow as tf
import tf_keras
from official.core import config_definitions as cd
from official.core import train_utils
from official.modeling import optimization
from official.nlp.configs import encoders

from benchmarks.environment import _cpu_model
from mbert_cli.config import RunConfig
from mbert_cli.config.training import OptimizerConfig
from mbert_cli.importing import importer, sources
from mbert_cli.importing.importer import FINETUNE_SETTINGS
from mbert_cli.modeling.models import CLASSIFIER_HEAD
from mbert_cli.training.distribute import make_distribution
from mbert_cli.training.finetune import ClassificationTask
from mbert_cli.training.loop import make_train_step
from mbert_cli.training.optim import _NO_DECAY, build_optimizer
from mbert_cli.training.precision import onednn_enabled, precision_policy, run_policy
from mbert_cli.training.run_dir import StageDir
from mbert_cli.training.runner import StageContext
from mbert_cli.training.session import seed_everything

CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@dataclass
class VsConfig:
    """What to compare: the model source, the data, and how long to time."""

    source: str = "minilm"  # `mbert import` SOURCE; the encoder config and weights come from it
    data: str = "shipped"  # the classification data (`load_classification` spec)
    max_examples: int = 0  # 0 = all (finetune.max_examples)
    batch_size: int = 16
    seq_len: int = 64  # the longest sentence kept (data.seq_len); batches are cut to their longest
    group_by_length: bool = True
    epochs: float = 2.0  # sets the learning-rate schedule's length, as the import's recipe does
    learning_rate: float = 4e-5
    batches: int = 32  # distinct batches, cycled by both paths in the same order
    rounds: int = 5
    steps: int = 20  # steps per path per round
    warmup: int = 2  # untimed steps per path first (tracing)
    seed: int = 42
    no_dropout: bool = False  # dropout off in both models: step 0's losses are then equal (tests)


@dataclass
class Sides:
    """The two built paths: step callables, models and their input datasets."""

    mbert_step: object  # () -> dict of floats, one mbert step
    tfm_train: object  # (n) -> logs, n tf-models steps in one orbit loop
    mbert_model: object
    tfm_model: object
    mbert_inputs: object  # tf.data: (features, labels)
    tfm_inputs: object  # tf.data: features + label_ids
    mbert_fn: object = None  # mbert's step tf.function (graphs, profiling)
    trainer: object = None  # tf-models' Trainer
    info: dict = field(default_factory=dict)


def run_config(vs: VsConfig, encoder=None):
    """The RunConfig `mbert import` writes (encoder + fine-tune recipe), with the fast data settings."""
    cfg = RunConfig(preset="", role="teacher", encoder=encoder)
    cfg.data.vocab = "shipped"
    cfg.data.seq_len = min(vs.seq_len, encoder.max_sequence_length)
    cfg.data.group_by_length = vs.group_by_length
    cfg.export.seq_len = min(cfg.export.seq_len, encoder.max_sequence_length)  # as the import writes it
    for key, value in FINETUNE_SETTINGS.items():
        setattr(cfg.finetune, key, value)
    cfg.finetune.batch_size, cfg.finetune.epochs = vs.batch_size, vs.epochs
    cfg.finetune.learning_rate, cfg.finetune.max_examples = vs.learning_rate, vs.max_examples
    cfg.seed = vs.seed
    cfg.validate()
    return cfg


def load_source(source: str):
    """(encoder config, fill(pretrainer)) of `source`, read as `mbert import` reads it."""
    loaded = importer.load(sources.locate(source))
    loaded.encoder.classifier_pooling = loaded.pooling
    return loaded.encoder, loaded.fill


def fixed_batches(make_inputs, count: int) -> list:
    """The first `count` batches of an input pipeline, as numpy (features dict, labels)."""
    out = []
    for features, labels in make_inputs().take(count):
        out.append(({k: v.numpy() for k, v in features.items()}, labels.numpy()))
    if len(out) < count:
        raise ValueError(f"the data gives {len(out)} batches, {count} asked")
    return out


def cycled(batches: list, as_tfm: bool):
    """tf.data cycling `batches` in order: (features, labels) for mbert, features + label_ids for tf-models.

    Built from tensors only (no Python per element); the element spec is [batch, None], so
    each step function traces once for every width.
    """
    def one(features, labels):
        element = {**features, "label_ids": labels} if as_tfm else (features, labels)
        return tf.data.Dataset.from_tensors(element)

    parts = [one(f, y) for f, y in batches]
    return functools.reduce(lambda a, b: a.concatenate(b), parts).repeat().prefetch(2)


def _no_dropout(model) -> None:
    for layer in model.submodules:
        if isinstance(layer, tf_keras.layers.Dropout):
            layer.rate = 0.0


def build_mbert(vs: VsConfig, cfg, fill, workdir: Path):
    """mbert's ClassificationTask, filled with the source's weights; returns (task, ctx, step builder)."""
    dist = make_distribution("default")
    task = ClassificationTask(cfg, None, vs.data, None)
    policy = run_policy(cfg.train.mixed_precision, say=lambda _line: None)
    ctx = StageContext(workdir, cfg, dist, vs.batch_size, policy, lambda _line: None, StageDir(workdir, task.name))
    task.prepare(ctx)  # the task's rows and labels, as run_stage has it do first
    seed_everything(cfg.seed)
    with dist.strategy.scope():
        model = task.build_model(ctx)
    if fill is not None:
        fill(task.pm)
    if vs.no_dropout:
        _no_dropout(model)
    return task, ctx, model


def tfm_experiment(vs: VsConfig, cfg, num_classes: int, total_steps: int, steps_per_loop: int):
    """The tf-models ExperimentConfig a user writes for this fine-tune: BertEncoderV2 config, AdamW, warm-up."""
    from official.nlp.data.sentence_prediction_dataloader import SentencePredictionDataConfig  # noqa: PLC0415 - tensorflow_hub and pkg_resources, for this comparison only
    from official.nlp.tasks import sentence_prediction as sp  # noqa: PLC0415 - tensorflow_hub and pkg_resources, for this comparison only

    enc = cfg.encoder
    ft = cfg.finetune
    encoder = encoders.EncoderConfig(type="bert_v2", bert_v2=encoders.BertEncoderConfig(
        vocab_size=enc.vocab_size, hidden_size=enc.hidden_size, num_layers=enc.num_layers,
        num_attention_heads=enc.num_heads, hidden_activation=enc.activation, intermediate_size=enc.intermediate_size,
        dropout_rate=enc.hidden_dropout, attention_dropout_rate=enc.attention_dropout,
        max_position_embeddings=enc.max_sequence_length, type_vocab_size=enc.type_vocab_size,
        initializer_range=enc.initializer_range,
        embedding_size=None if enc.embedding_size == enc.hidden_size else enc.embedding_size))
    task = sp.SentencePredictionConfig(
        model=sp.ModelConfig(num_classes=num_classes, use_encoder_pooler=True, encoder=encoder),
        train_data=SentencePredictionDataConfig(global_batch_size=vs.batch_size, seq_length=cfg.data.seq_len))
    warmup = int(ft.warmup_fraction * total_steps)
    optimizer = optimization.OptimizationConfig({
        "optimizer": {"type": "adamw", "adamw": {"weight_decay_rate": ft.weight_decay,
                                                 "exclude_from_weight_decay": _NO_DECAY,
                                                 "gradient_clip_norm": cfg.train.optimizer.clip_norm}},
        "learning_rate": {"type": "polynomial", "polynomial": {
            "initial_learning_rate": ft.learning_rate, "decay_steps": total_steps,
            "end_learning_rate": 0.0, "power": 1.0}},
        "warmup": {"type": "linear", "linear": {"warmup_steps": warmup}} if warmup else {"type": None},
    })
    trainer = cd.TrainerConfig(optimizer_config=optimizer, train_steps=total_steps, steps_per_loop=steps_per_loop,
                               train_tf_while_loop=True, train_tf_function=True, summary_interval=0,
                               checkpoint_interval=0, validation_interval=0)
    return cd.ExperimentConfig(task=task, trainer=trainer, runtime=cd.RuntimeConfig())


def build_tfm(vs: VsConfig, cfg, num_classes: int, total_steps: int, dataset, policy):
    """tf-models' Trainer over a SentencePredictionTask that reads `dataset`."""
    from official.nlp.tasks import sentence_prediction as sp  # noqa: PLC0415 - tensorflow_hub and pkg_resources, for this comparison only

    class FixedInputTask(sp.SentencePredictionTask):
        """The task as is; only its input reads the batches mbert reads (not TFRecords)."""

        def build_inputs(self, params, input_context=None):
            return dataset

    params = tfm_experiment(vs, cfg, num_classes, total_steps, vs.steps)
    task = FixedInputTask(params.task)
    with precision_policy(policy):
        trainer = train_utils.create_trainer(params, task, train=True, evaluate=False)
    return trainer


def copy_weights(mbert_model, mbert_encoder, tfm_model) -> None:
    """Encoder and classifier-head weights of mbert's model into tf-models' BertClassifier, matched by
    name below each model's encoder/head (both are tf-models' BertEncoderV2 and ClassificationHead)."""
    def by_name(variables) -> dict:
        return {v.name.split("/", 1)[1]: v for v in variables}

    pairs = [(mbert_encoder.weights, tfm_model.checkpoint_items["encoder"].weights),
             (mbert_model.get_layer(CLASSIFIER_HEAD).weights, tfm_model.classifier.weights)]
    for source, target in pairs:
        source, target = by_name(source), by_name(target)
        if source.keys() != target.keys() or any(source[k].shape != target[k].shape for k in source):
            raise ValueError(f"the two models' weights differ: {sorted(source.keys() ^ target.keys())[:4]}")
        for key, variable in target.items():
            variable.assign(source[key])


def build_sides(vs: VsConfig, encoder_cfg, fill, workdir: Path) -> Sides:
    """Both paths, built over the same weights and reading the same batches."""
    cfg = run_config(vs, encoder_cfg)
    task, ctx, model = build_mbert(vs, cfg, fill, workdir)
    phase = task.phases()[0]
    with ctx.dist.strategy.scope():
        groups, _ = task.create_optimizers(ctx, phase)
    pipeline = lambda: task.build_inputs(ctx, phase, tf.distribute.InputContext(), vs.batch_size, cfg.seed)  # noqa: E731
    batches = fixed_batches(pipeline, vs.batches)
    mbert_inputs, tfm_inputs = cycled(batches, as_tfm=False), cycled(batches, as_tfm=True)
    loss_fn, targets_fn = task.build_losses(ctx, phase)
    step_fn = make_train_step(ctx.dist, iter(mbert_inputs), loss_fn, groups, task.clip_norm, targets_fn=targets_fn)

    def mbert_step() -> dict:
        return {k: float(v) for k, v in step_fn().items()}  # as loop.Trainer.run reads each step

    trainer = build_tfm(vs, cfg, len(task.labels), task.steps, tfm_inputs, ctx.policy)
    copy_weights(model, task.pm.encoder, trainer.model)
    if vs.no_dropout:
        _no_dropout(trainer.model)

    def tfm_train(n: int) -> dict:
        logs = trainer.train(tf.convert_to_tensor(n, tf.int32))
        return {k: float(v) for k, v in logs.items()}

    widths = [int(f["input_word_ids"].shape[1]) for f, _ in batches]
    info = {"policy": ctx.policy or "float32", "lr_schedule_steps": task.steps, "clip_norm": task.clip_norm,
            "widths": {"min": min(widths), "median": statistics.median(widths), "max": max(widths)},
            "mbert_parameters": int(model.count_params()), "tfm_parameters": int(trainer.model.count_params()),
            "pooling": {"mbert": cfg.encoder.classifier_pooling, "tf-models": "pooled_output (use_encoder_pooler)"},
            "activation": {"mbert": cfg.encoder.activation,
                           "tf-models": f"{cfg.encoder.activation} (tf-models' string: tanh approximation for gelu)"}}
    return Sides(mbert_step, tfm_train, model, trainer.model, mbert_inputs, tfm_inputs, step_fn, trainer, info)


def time_rounds(sides: Sides, vs: VsConfig) -> dict:
    """Alternating rounds of `vs.steps` steps each; per-round seconds/step and their ratio."""
    first = {"mbert": sides.mbert_step()["loss"], "tf-models": sides.tfm_train(1)["training_loss"]}
    for _ in range(vs.warmup - 1):
        sides.mbert_step()
    if vs.warmup > 1:
        sides.tfm_train(vs.warmup - 1)
    mbert, tfm, ratios, losses = [], [], [], {"mbert": [], "tf-models": []}
    for _ in range(vs.rounds):
        t0 = time.perf_counter()
        for _ in range(vs.steps):
            out = sides.mbert_step()
        m = (time.perf_counter() - t0) / vs.steps
        t0 = time.perf_counter()
        logs = sides.tfm_train(vs.steps)
        t = (time.perf_counter() - t0) / vs.steps
        mbert.append(m)
        tfm.append(t)
        ratios.append(m / t)
        losses["mbert"].append(out["loss"])
        losses["tf-models"].append(logs["training_loss"])
    return {"step0_loss": first, "mbert_s": mbert, "tfm_s": tfm, "ratios": ratios,
            "median_mbert_s": statistics.median(mbert), "median_tfm_s": statistics.median(tfm),
            "median_ratio": statistics.median(ratios), "last_losses": losses}


def embedding_update(rows: int = 30522, width: int = 384, tokens: int = 16 * 33, rounds: int = 8,
                     steps: int = 10) -> dict:
    """Seconds per AdamW update of one embedding table, alternating: the gradient made dense first (as
    mbert's step does: one fused ResourceApplyAdam) against the tape's IndexedSlices passed on (as tf-models'
    Task.train_step does: the legacy optimizer's sparse path, dense moment decay + scatter + dense update)."""
    def table_and_optimizer():
        table = tf.Variable(tf.random.normal([rows, width], stddev=0.02), name="word_embeddings/embeddings")
        opt = build_optimizer(OptimizerConfig(learning_rate=4e-5, weight_decay=0.01), 1000, "adamw", warmup_steps=100)
        return table, opt

    (dense_table, dense_opt), (sparse_table, sparse_opt) = table_and_optimizer(), table_and_optimizer()
    ids = tf.random.uniform([tokens], 0, rows, tf.int32)
    values = tf.random.normal([tokens, width])
    shape = tf.constant([rows, width])

    @tf.function
    def dense():
        grad = tf.convert_to_tensor(tf.IndexedSlices(values, ids, shape))
        grads, _ = tf.clip_by_global_norm([grad], 1.0, use_norm=tf.linalg.global_norm([grad]))
        dense_opt.apply_gradients(zip(grads, [dense_table], strict=True), experimental_aggregate_gradients=False)

    @tf.function
    def sparse():
        grads, _ = tf.clip_by_global_norm([tf.IndexedSlices(values, ids, shape)], 1.0)
        sparse_opt.apply_gradients(zip(grads, [sparse_table], strict=True))

    dense(), sparse()
    times = {"dense": [], "sparse": []}
    for _ in range(rounds):
        for name, fn in (("dense", dense), ("sparse", sparse)):
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            times[name].append((time.perf_counter() - t0) / steps)
    ratios = [d / s for d, s in zip(times["dense"], times["sparse"], strict=True)]
    return {"median_dense_s": statistics.median(times["dense"]), "median_sparse_s": statistics.median(times["sparse"]),
            "median_ratio": statistics.median(ratios), "rows": rows, "width": width, "tokens": tokens}


def machine() -> dict:
    """CPU model and the SIMD flags that matter for TensorFlow on CPU, threads, oneDNN."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "flags": [f for f in CPU_FLAGS if f in flags],
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default (cores)",
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or "default",
            "onednn": onednn_enabled(), "tensorflow": tf.__version__,
            "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None}


def compare(vs: VsConfig, encoder_cfg=None, fill=None) -> dict:
    """Builds both paths (from `vs.source` unless an encoder config is given) and times them."""
    if encoder_cfg is None:
        encoder_cfg, fill = load_source(vs.source)
    with tempfile.TemporaryDirectory(prefix="mbert-vs-") as tmp:
        sides = build_sides(vs, encoder_cfg, fill, Path(tmp))
        timing = time_rounds(sides, vs)
    return {"config": asdict(vs), "machine": machine(), **sides.info, **timing}


def table(result: dict) -> str:
    """The per-round table and the medians, in Markdown."""
    lines = ["| round | mbert s/step | tf-models s/step | ratio mbert/tf-models |", "|---|---|---|---|"]
    for i, (m, t, r) in enumerate(zip(result["mbert_s"], result["tfm_s"], result["ratios"], strict=True), 1):
        lines.append(f"| {i} | {m:.4f} | {t:.4f} | {r:.3f} |")
    lines.append(f"| median | {result['median_mbert_s']:.4f} | {result['median_tfm_s']:.4f} | "
                 f"{result['median_ratio']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = VsConfig()
    for name in ("source", "data"):
        parser.add_argument(f"--{name}", default=getattr(defaults, name))
    for name in ("batch_size", "seq_len", "batches", "rounds", "steps", "warmup", "seed"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--embedding-update", action="store_true",
                        help="time only the embedding table's AdamW update, dense vs sparse gradient")
    args = parser.parse_args(argv)
    if args.embedding_update:
        print(json.dumps({"machine": machine(), **embedding_update(rounds=args.rounds, steps=args.steps)}, indent=1))
        return 0
    vs = VsConfig(source=args.source, data=args.data, batch_size=args.batch_size, seq_len=args.seq_len,
                  batches=args.batches, rounds=args.rounds, steps=args.steps, warmup=args.warmup, seed=args.seed)
    result = compare(vs)
    print(json.dumps({k: v for k, v in result.items() if k not in ("mbert_s", "tfm_s", "ratios")}, indent=1))
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
