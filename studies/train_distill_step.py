"""Distillation step time: mbert's student stages vs tf-models-official's `distillation.py`.

    python -m studies.train_distill_step [--student mobilebert --teacher ib-bert-large]
        [--batch 8 --seq 128 --steps 3 --stages 0,mid,last,distill] [--out FILE]

tf-models-official 2.20's wheel lacks `official.modeling.fast_training` (the base class of
their progressive policy), so a minimal stand-in holding the stage id is registered; all that
is timed on their side (stage model, losses, `train_step`) is their unmodified code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
import types


def _install_policy_stand_in() -> None:
    try:
        import official.modeling.fast_training.progressive.policies  # noqa: F401
        return
    except ImportError:
        pass
    import tensorflow as tf
    from official.modeling.hyperparams import base_config

    @dataclasses.dataclass
    class ProgressiveConfig(base_config.Config):
        pass

    class ProgressivePolicy:
        def __init__(self):
            self._stage_id = tf.Variable(0, trainable=False, dtype=tf.int64, shape=[])

    names = ["official.modeling.fast_training", "official.modeling.fast_training.progressive",
             "official.modeling.fast_training.progressive.policies"]
    for name in names:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules[names[-1]].ProgressiveConfig = ProgressiveConfig
    sys.modules[names[-1]].ProgressivePolicy = ProgressivePolicy


def _mg_encoder(enc):
    from official.nlp.configs import encoders

    return encoders.EncoderConfig(type="mobilebert", mobilebert=encoders.MobileBertEncoderConfig(
        word_vocab_size=enc.vocab_size, word_embed_size=enc.embedding_size, type_vocab_size=enc.type_vocab_size,
        max_sequence_length=enc.max_sequence_length, num_blocks=enc.num_layers, hidden_size=enc.hidden_size,
        num_attention_heads=enc.num_heads, intermediate_size=enc.intermediate_size, hidden_activation=enc.activation,
        hidden_dropout_prob=enc.hidden_dropout, attention_probs_dropout_prob=enc.attention_dropout,
        intra_bottleneck_size=enc.intra_bottleneck_size, initializer_range=enc.initializer_range,
        use_bottleneck_attention=enc.use_bottleneck_attention,
        key_query_shared_bottleneck=enc.key_query_shared_bottleneck,
        num_feedforward_networks=enc.num_feedforward_networks, normalization_type=enc.normalization_type,
        classifier_activation=enc.classifier_activation, input_mask_dtype="float32"))


def _time(step, n: int) -> float:
    step()  # trace + first run
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", default="mobilebert")
    parser.add_argument("--teacher", default="ib-bert-large")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per stage (after one warm-up step)")
    parser.add_argument("--stages", default="0,mid,last,distill")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from mbert_cli.config import resolve_config
    from mbert_cli.modeling.pretrainer import build_pretrainer
    from mbert_cli.training.distiller import Distiller, stage_variables
    from mbert_cli.training.distribute import make_distribution
    from mbert_cli.training.inputs import synthetic_pretraining
    from mbert_cli.training.loop import make_train_step
    from mbert_cli.training.optim import build_optimizer
    from mbert_cli.training.stages import build_schedule, resolve_layer_map
    from mbert_cli.training.teachers import MobileBertTeacher

    sets = [f"data.seq_len={args.seq}", f"data.max_predictions_per_seq={args.predictions}"]
    s_cfg, t_cfg = resolve_config(args.student, None, sets), resolve_config(args.teacher, None, sets)
    n = s_cfg.encoder.num_layers
    wanted = []
    for item in args.stages.split(","):
        wanted.append({"mid": n // 2, "last": n - 1}.get(item, item))
    batch = next(iter(synthetic_pretraining(s_cfg, args.batch, training=False, num_batches=1)))
    layer_map = resolve_layer_map(s_cfg.distill, n, t_cfg.encoder.num_layers)
    stages = {s.layer if s.kind == "layer" else s.kind: s
              for s in build_schedule(s_cfg.distill, n, layer_map)}
    result = {"student": args.student, "teacher": args.teacher, "batch": args.batch, "seq": args.seq,
              "threads": os.cpu_count(), "stages": {}}

    # --- ours
    dist = make_distribution("default")
    student = build_pretrainer(s_cfg.encoder, name="student")
    teacher = build_pretrainer(t_cfg.encoder, name="teacher")
    teacher.model.trainable = False
    distiller = Distiller(student, MobileBertTeacher(teacher), s_cfg, layer_map)
    for key in wanted:
        spec = stages[int(key) if str(key).isdigit() else key]
        trained, _ = stage_variables(student, spec)
        opt = build_optimizer(s_cfg.distill.optimizer, spec.steps, "lamb")
        iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
        fn = make_train_step(dist, iterator, distiller.loss_fn(spec), [(opt, trained)],
                             s_cfg.distill.optimizer.clip_norm, targets_fn=distiller.teacher_fn(spec))
        ours = _time(lambda fn=fn: float(fn()["loss"]), args.steps)
        result["stages"][spec.name] = {"ours_s": round(ours, 4)}
        print(f"ours   {spec.name}: {ours:.4f} s/step", flush=True)
    del student, teacher, distiller

    # --- tf-models-official
    _install_policy_stand_in()
    from official.modeling import optimization
    from official.nlp.configs import bert
    from official.nlp.data import pretrain_dataloader
    from official.projects.mobilebert import distillation

    def pretrainer(cfg):
        return bert.PretrainerConfig(encoder=_mg_encoder(cfg.encoder), mlm_activation="gelu", cls_heads=[
            bert.ClsHeadConfig(inner_dim=cfg.encoder.hidden_size, num_classes=2, name="next_sentence")])

    data = pretrain_dataloader.BertPretrainDataConfig(input_path="dummy", seq_length=args.seq,
                                                      max_predictions_per_seq=args.predictions,
                                                      global_batch_size=args.batch)
    task_cfg = distillation.BertDistillationTaskConfig(teacher_model=pretrainer(t_cfg), student_model=pretrainer(s_cfg),
                                                       train_data=data, validation_data=data)
    progressive = distillation.BertDistillationProgressiveConfig()
    progressive.layer_wise_distill_config.if_freeze_previous_layers = True  # as ours (lower_layer_lr_scale 0)
    progressive.layer_wise_distill_config.transfer_teacher_layers = layer_map
    opt_cfg = optimization.OptimizationConfig(
        optimizer=optimization.OptimizerConfig(type="lamb", lamb=optimization.LAMBConfig(weight_decay_rate=0.01)),
        learning_rate=optimization.LrConfig(type="polynomial"),
        warmup=optimization.WarmupConfig(type="linear"))
    task = distillation.BertDistillationTask(strategy=tf.distribute.get_strategy(), progressive=progressive,
                                             optimizer_config=opt_cfg, task_config=task_cfg)
    metrics = task.build_metrics()
    mg_batch = dict(batch)
    for key in wanted:
        stage_id = n if key == "distill" else int(key)
        name = "distill" if key == "distill" else f"layer_{key}"
        task._stage_id.assign(stage_id)  # noqa: SLF001 - what their policy's update_pt_stage sets
        model = task.build_model(stage_id)
        opt = task.get_optimizer(stage_id)
        fn = tf.function(lambda b, model=model, opt=opt: task.train_step(b, model, opt, metrics))
        # Their layer-wise "loss" is a [batch, seq] tensor (mean_squared_error is not reduced); fetch its mean.
        theirs = _time(lambda fn=fn: float(tf.reduce_mean(fn(mg_batch)[task.loss])), args.steps)
        result["stages"][name]["theirs_s"] = round(theirs, 4)
        result["stages"][name]["ratio"] = round(result["stages"][name]["ours_s"] / theirs, 3)
        print(f"theirs {name}: {theirs:.4f} s/step (ours/theirs {result['stages'][name]['ratio']})", flush=True)
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
