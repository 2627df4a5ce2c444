"""Training speed of the demo's stages against this CPU's own peak (issue 35).

For each stage the `minilm` demo trains, the real step function (`training.loop.make_train_step`,
its optimizer, clipping and losses) on the shipped task's length-grouped batches:

- teacher fine-tune: MiniLM (imported config, random weights: speed does not depend on them),
  classification, AdamW, batch 16, `data.group_by_length`, seq_len as the import fits it;
- distillation: minilm-student from MiniLM, the joint layer-transfer step and the
  pre-training distillation step (teacher forward outside the tape), batch 16, seq 64;
- student fine-tune: minilm-student classification, AdamW, batch 16, grouped.

Printed per stage: seconds per step (mean over a fixed set of batches, so widths match between
runs), model FLOPs per step, achieved GFLOP/s and its share of the practical peak, a large fp32
matmul in TensorFlow at the same thread count measured in the same process. FLOPs come from the
shapes: a training step is 3 forward passes' worth (forward, gradient of the activations,
gradient of the weights), and a forward pass is `config.param_count.encoder_flops` (2 x every
dense kernel x tokens, i.e. 2 x non-embedding params x tokens, plus the attention products
Q.K^T and P.V, 2 x seq^2 x width per layer), summed over each batch's real [batch, width] shape.
A distillation step adds the frozen teacher's forward pass. Norms, softmax, embedding lookups,
the optimizer update and the MLM output layer are left out, so the figure is a lower bound.
`--profile` adds the TensorFlow profiler's top ops (host time by op type over a few steps).
`--lever xla|prefetch|sparse|round16` times the lever and the baseline alternately in this process
(several repetitions, median of each) and checks the loss on one batch matches.

    python -m benchmarks.train_speed [--stages teacher,distill,student] [--batches 12] [--reps 3]
        [--profile] [--lever xla] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from mbert_cli.config import RunConfig, resolve_config
from mbert_cli.config.param_count import encoder_flops
from mbert_cli.config.training import OptimizerConfig
from mbert_cli.data import length_batches
from mbert_cli.importing import importer, sources
from mbert_cli.modeling.models import build_classifier
from mbert_cli.modeling.pretrainer import MODEL_INPUTS, build_pretrainer, model_inputs
from mbert_cli.training.distiller import Distiller, stage_variables
from mbert_cli.training.distribute import make_distribution
from mbert_cli.training.inputs import classification_data, synthetic_pretraining
from mbert_cli.training.loop import make_train_step
from mbert_cli.training.losses import classification_loss
from mbert_cli.training.optim import build_optimizer
from mbert_cli.training.stages import build_schedule, resolve_layer_map
from mbert_cli.training.teachers import BertTeacher

INTERESTING_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                     "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_description() -> dict:
    """Model name, core count and the SIMD flags that decide fp32/bf16 speed (Linux /proc/cpuinfo)."""
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "cpus": os.cpu_count(), "flags": [f for f in INTERESTING_FLAGS if f in flags]}


def matmul_peak(n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an [n, n] x [n, n] fp32 matmul in TensorFlow (the practical peak), median of `reps`."""

    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    mm = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    float(mm(a, b))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        float(mm(a, b))
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def train_flops(enc, shapes) -> float:
    """Model FLOPs of training steps on batches of `shapes` [(batch, width)]: 3 forward passes each."""

    return sum(3 * b * encoder_flops(enc, w) for b, w in shapes)


def forward_flops(enc, shapes) -> float:

    return sum(b * encoder_flops(enc, w) for b, w in shapes)


def fixed_batches(ds, k: int) -> list:
    """The first `k` batches of a tf.data pipeline, as tensors (the same ones for every timed variant)."""
    return list(ds.take(k))


def replay(batches: list, prefetch: bool = False):
    """A repeating tf.data iterator over `batches`, with a [batch, None] spec (as the grouped pipeline's)."""

    spec = tf.nest.map_structure(lambda t: tf.TensorSpec([t.shape[0]] + [None] * (t.shape.rank - 1), t.dtype),
                                 batches[0])
    ds = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=spec).repeat()
    return iter(ds.prefetch(2) if prefetch else ds)


def round_width(batch, multiple: int, padded: int):
    """A trimmed (features, labels) batch zero-padded on the right to a multiple of `multiple` columns, at
    most `padded`: what `length_batches.bucketed_batches(..., multiple=)` cuts (fewer shapes for XLA)."""
    features, *rest = batch
    width = int(features[length_batches.MASK].shape[1])
    target = min(-(-width // multiple) * multiple, padded)
    grown = {k: tf.pad(v, [[0, 0], [0, target - width]]) for k, v in features.items()}
    return (grown, *rest)


class Stage:
    """One timed training stage: a step-function factory over fixed batches, and their FLOPs."""

    def __init__(self, name, make_step, batches, flops, note):
        self.name, self.make_step, self.batches, self.flops, self.note = name, make_step, batches, flops, note

    def time(self, step, passes: int = 1) -> float:
        """Mean seconds per step over `passes` passes of the fixed batches (step already warm)."""
        n = passes * len(self.batches)
        t = time.perf_counter()
        for _ in range(n):
            out = step()
        float(out["loss"])
        return (time.perf_counter() - t) / n


def _finetune_stage(name, cfg, batch: int, k: int, round_to: int = 1):


    train, _, labels, make = classification_data(cfg, None)
    ds = make(train, batch, True, seed=cfg.seed, by_length=True)
    batches = fixed_batches(ds, k)
    if round_to > 1:
        batches = [round_width(b, round_to, cfg.data.seq_len) for b in batches]
    model, encoder = build_classifier(cfg.encoder, len(labels))
    dist = make_distribution("default")
    ft = cfg.finetune
    base = OptimizerConfig(learning_rate=ft.learning_rate, weight_decay=ft.weight_decay,
                           clip_norm=cfg.train.optimizer.clip_norm)

    def loss_fn(b):
        logits = model(model_inputs(b[0], MODEL_INPUTS), training=True)["logits"]
        ce, acc = classification_loss(logits, b[1])
        return {"loss": ce, "accuracy": acc}

    def make_step(jit_compile=False, prefetch=False, sparse_grads=False, freeze_words=False):
        opt = build_optimizer(base, 1000, "adamw", warmup_steps=100)
        kw = {"jit_compile": True} if jit_compile else {}
        # The table finetune.freeze_word_embeddings leaves out (FineTuneTask.create_optimizers).
        frozen = {encoder.get_embedding_table().ref()} if freeze_words else set()
        trained = [v for v in model.trainable_variables if v.ref() not in frozen]
        return make_train_step(dist, replay(batches, prefetch), loss_fn, [(opt, trained)],
                               cfg.train.optimizer.clip_norm, sparse_grads=sparse_grads, **kw)

    shapes = [tuple(b[0]["input_mask"].shape) for b in batches]
    widths = [w for _, w in shapes]
    note = (f"batch {batch}, grouped, seq_len {cfg.data.seq_len}, widths {min(widths)}-{max(widths)} "
            f"(mean {statistics.mean(widths):.1f})")
    return Stage(name, make_step, batches, train_flops(cfg.encoder, shapes) / len(batches), note), model


def minilm_config():
    """The run config `mbert import minilm` writes (encoder of the shipped MiniLM, fine-tune recipe, fitted seq_len)."""

    loaded = importer.load(sources.locate("minilm", "auto", None))
    enc = loaded.encoder
    enc.classifier_pooling = loaded.pooling
    cfg = RunConfig(preset="", role="teacher", encoder=enc)
    for key, value in importer.FINETUNE_SETTINGS.items():
        setattr(cfg.finetune, key, value)
    cfg.data.group_by_length = True
    cfg.data.seq_len = importer._task_seq_len(loaded, cfg, enc.max_sequence_length)  # noqa: SLF001
    cfg.validate()
    return cfg


def teacher_stage(args):
    cfg = minilm_config()
    return _finetune_stage("teacher fine-tune (MiniLM)", cfg, args.batch, args.batches, args.round_to)[0]


def student_stage(args):

    cfg = resolve_config("minilm-student", None, ["data.group_by_length=true", "finetune.batch_size=16"])
    return _finetune_stage("student fine-tune (minilm-student)", cfg, args.batch, args.batches, args.round_to)[0]


def distill_stages(args) -> list[Stage]:


    t_cfg = minilm_config()
    s_cfg = resolve_config("minilm-student", None, ["distill.strategy=joint"])
    n = s_cfg.encoder.num_layers
    layer_map = resolve_layer_map(s_cfg.distill, n, t_cfg.encoder.num_layers)
    student = build_pretrainer(s_cfg.encoder, name="student")
    teacher = build_pretrainer(t_cfg.encoder, name="teacher")
    teacher.model.trainable = False
    distiller = Distiller(student, BertTeacher(teacher, has_mlm=False, cfg=t_cfg), s_cfg, layer_map)
    batch = s_cfg.distill.batch_size
    batches = fixed_batches(synthetic_pretraining(s_cfg, batch, training=False, num_batches=1), 1)
    dist = make_distribution("default")
    shapes = [(batch, s_cfg.data.seq_len)]
    flops = train_flops(s_cfg.encoder, shapes) + forward_flops(t_cfg.encoder, shapes)
    out = []
    for spec in build_schedule(s_cfg.distill, n, layer_map):
        def make_step(jit_compile=False, prefetch=False, sparse_grads=False, spec=spec):
            trained, _ = stage_variables(student, spec)
            opt = build_optimizer(s_cfg.distill.optimizer, spec.steps, "lamb")
            kw = {"jit_compile": True} if jit_compile else {}
            return make_train_step(dist, replay(batches, prefetch), distiller.loss_fn(spec), [(opt, trained)],
                                   s_cfg.distill.optimizer.clip_norm, targets_fn=distiller.teacher_fn(spec),
                                   sparse_grads=sparse_grads, **kw)

        out.append(Stage(f"distillation {spec.name} (minilm-student from MiniLM)", make_step, batches, flops,
                         f"batch {batch}, seq {s_cfg.data.seq_len}, LAMB; teacher forward outside the tape"))
    return out


def top_ops(stage: Stage, step, logdir: Path, steps: int = 4, top: int = 12) -> list[dict]:
    """Host time by TensorFlow op type over `steps` profiled steps (nested function calls left out)."""

    tf.profiler.experimental.start(str(logdir))
    for _ in range(steps):
        out = step()
    float(out["loss"])
    tf.profiler.experimental.stop()
    totals: dict[str, float] = {}
    for pb in logdir.rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(pb.read_bytes())
        for plane in space.planes:
            names = {k: m.name for k, m in plane.event_metadata.items()}
            for line in plane.lines:
                for ev in line.events:
                    name = names.get(ev.metadata_id, "")
                    if ":" not in name or "::" in name or name.startswith("__inference") or "PartitionedCall" in name:
                        continue
                    kind = name.rsplit(":", 1)[1].strip() or name
                    if kind.startswith(("__inference", "#")) or "Call" in kind:
                        continue
                    totals[kind] = totals.get(kind, 0.0) + ev.duration_ps / 1e9  # ms
    whole = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"op": k, "ms_per_step": round(v / steps, 2), "share": round(v / whole, 3)} for k, v in ranked]


def loss_on_first_batch(stage: Stage, **kw) -> float:
    """Loss of one step on the first fixed batch (fresh optimizer; the model's current weights)."""
    return float(stage.make_step(**kw)()["loss"])


def compare(stage: Stage, lever: str, reps: int) -> dict:
    """Baseline and lever timed alternately, `reps` times each; median seconds per step and ratio."""
    kw = {"xla": {"jit_compile": True}, "prefetch": {"prefetch": True}, "sparse": {"sparse_grads": True},
          "freeze-words": {"freeze_words": True}}[lever]
    base, other = stage.make_step(), stage.make_step(**kw)
    t = time.perf_counter()
    base()
    trace_base = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(len(stage.batches)):  # XLA compiles once per distinct shape: warm them all
        other()
    warm_other = time.perf_counter() - t
    stage.time(base)
    a, b = [], []
    for _ in range(reps):
        a.append(stage.time(base))
        b.append(stage.time(other))
    ma, mb = statistics.median(a), statistics.median(b)
    return {"lever": lever, "baseline_s": round(ma, 4), "lever_s": round(mb, 4), "ratio": round(mb / ma, 3),
            "baseline_runs": [round(x, 4) for x in a], "lever_runs": [round(x, 4) for x in b],
            "first_step_s": round(trace_base, 1), "lever_warmup_s": round(warm_other, 1)}


def compare_env(args) -> dict:
    """A process-wide lever (threads, oneDNN: fixed once TensorFlow starts): this script in child
    processes, baseline and lever environments alternated `--pairs` times; median s/step per stage."""
    lever = dict(item.split("=", 1) for item in args.env_lever.split(","))
    runs: dict[str, list] = {"baseline": [], "lever": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for arm in ("baseline", "lever"):
                out = Path(tmp) / f"{arm}{i}.json"
                env = dict(os.environ, **(lever if arm == "lever" else {}))
                subprocess.run([sys.executable, "-m", "benchmarks.train_speed", "--stages", args.stages,
                                "--batches", str(args.batches), "--reps", str(args.reps), "--out", str(out)],
                               env=env, check=True, stdout=subprocess.DEVNULL)
                runs[arm].append(json.loads(out.read_text()))
    rows = []
    for j, row in enumerate(runs["baseline"][0]["stages"]):
        a = statistics.median(r["stages"][j]["s_per_step"] for r in runs["baseline"])
        b = statistics.median(r["stages"][j]["s_per_step"] for r in runs["lever"])
        rows.append({"stage": row["stage"], "lever": args.env_lever, "baseline_s": round(a, 4), "lever_s": round(b, 4),
                     "ratio": round(b / a, 3),
                     "baseline_share_of_peak": [r["stages"][j]["share_of_peak"] for r in runs["baseline"]],
                     "lever_share_of_peak": [r["stages"][j]["share_of_peak"] for r in runs["lever"]]})
        print(json.dumps(rows[-1]), flush=True)
    return {"cpu": cpu_description(), "env_lever": args.env_lever, "pairs": args.pairs, "rows": rows}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default="teacher,distill,student")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batches", type=int, default=12, help="fixed grouped batches timed per pass")
    parser.add_argument("--reps", type=int, default=3, help="timed passes (median); alternated with --lever")
    parser.add_argument("--lever", default=None, choices=["xla", "prefetch", "sparse", "freeze-words"])
    parser.add_argument("--round-to", type=int, default=1,
                        help="pad grouped batches' widths up to a multiple of this (shape buckets for XLA)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--env-lever", default=None,
                        help="e.g. TF_ENABLE_ONEDNN_OPTS=0 or TF_NUM_INTEROP_THREADS=1: child processes, alternated")
    parser.add_argument("--pairs", type=int, default=2, help="with --env-lever: baseline/lever process pairs")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.env_lever:
        result = compare_env(args)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
        return result

    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    result = {"cpu": cpu_description(), "tensorflow": tf.__version__,
              "intra_op_threads": threads, "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
              "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"), "stages": []}
    print(json.dumps({k: result[k] for k in ("cpu", "tensorflow", "intra_op_threads", "onednn")}), flush=True)
    builders = {"teacher": lambda: [teacher_stage(args)], "distill": lambda: distill_stages(args),
                "student": lambda: [student_stage(args)]}
    peaks = [matmul_peak()]  # the machine may be shared: the peak is measured around every stage
    for key in args.stages.split(","):
        for stage in builders[key]():
            row = {"stage": stage.name, "setup": stage.note, "gflop_per_step": round(stage.flops / 1e9, 2)}
            if args.lever:
                row.update(compare(stage, args.lever, args.reps))
                sec = row["baseline_s"]
                if args.lever == "xla":
                    row["loss_plain"] = loss_on_first_batch(stage)
                    row["loss_xla"] = loss_on_first_batch(stage, jit_compile=True)
            else:
                step = stage.make_step()
                t = time.perf_counter()
                step()
                row["first_step_s"] = round(time.perf_counter() - t, 1)
                stage.time(step)
                sec = statistics.median(stage.time(step) for _ in range(args.reps))
                if args.profile:
                    row["top_ops"] = top_ops(stage, step, Path(args.out or "train_speed").with_suffix("") / "profile"
                                             / key / str(len(result["stages"])))
            peaks.append(matmul_peak())
            row["s_per_step"] = round(sec, 4)
            row["gflops"] = round(stage.flops / sec / 1e9, 1)
            row["peak_gflops"] = round((peaks[-2] + peaks[-1]) / 2, 1)  # measured just before and after
            row["share_of_peak"] = round(row["gflops"] / row["peak_gflops"], 3)
            result["stages"].append(row)
            print(json.dumps(row), flush=True)
    result["peak_gflops_runs"] = [round(p, 1) for p in peaks]
    print(f"\npractical peak (fp32 matmul 2048^2, {threads} threads), measured around each stage: "
          f"{result['peak_gflops_runs']} GFLOP/s")
    print(f"{'stage':58s} {'s/step':>8s} {'GFLOP/step':>11s} {'GFLOP/s':>8s} {'peak':>6s} {'of peak':>8s}")
    for row in result["stages"]:
        print(f"{row['stage']:58s} {row['s_per_step']:8.3f} {row['gflop_per_step']:11.1f} {row['gflops']:8.1f} "
              f"{row['peak_gflops']:6.1f} {100 * row['share_of_peak']:7.1f}%")
        if "ratio" in row:
            print(f"    {row['lever']}: {row['baseline_s']:.3f} -> {row['lever_s']:.3f} s/step, ratio {row['ratio']}")
        for op in row.get("top_ops", [])[:8]:
            print(f"    {op['op']:32s} {op['ms_per_step']:9.1f} ms/step {100 * op['share']:5.1f}%")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
