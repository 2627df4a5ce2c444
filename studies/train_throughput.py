"""Training throughput (examples/s) of teacher (MLM + NSP) and student (distillation) steps.

    python -m studies.train_throughput [--pairs nano-teacher:nano-student,ib-bert-large:mobilebert]
        [--batch 8 --seq 128 --steps 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os

from studies.train_distill_step import _time


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="nano-teacher:nano-student,ib-bert-large:mobilebert")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from mbert_cli.config import resolve_config
    from mbert_cli.modeling.pretrainer import build_pretrainer, model_inputs
    from mbert_cli.training import losses
    from mbert_cli.training.distiller import Distiller
    from mbert_cli.training.distribute import make_distribution
    from mbert_cli.training.inputs import synthetic_pretraining
    from mbert_cli.training.loop import make_train_step
    from mbert_cli.training.optim import build_optimizer
    from mbert_cli.training.stages import StageSpec, resolve_layer_map
    from mbert_cli.training.teachers import MobileBertTeacher

    dist = make_distribution("default")
    sets = [f"data.seq_len={args.seq}", "data.max_predictions_per_seq=20"]
    rows = []
    for pair in args.pairs.split(","):
        t_name, s_name = pair.split(":")
        t_cfg, s_cfg = resolve_config(t_name, None, sets), resolve_config(s_name, None, sets)
        batch = next(iter(synthetic_pretraining(s_cfg, args.batch, training=False, num_batches=1)))
        teacher = build_pretrainer(t_cfg.encoder, name="teacher")

        def teacher_loss(b, pm=teacher):
            return losses.pretraining_loss(pm.model(model_inputs(b), training=True), b)

        opt = build_optimizer(t_cfg.train.optimizer, 100, "lamb")
        fn = make_train_step(dist, iter(tf.data.Dataset.from_tensors(batch).repeat()), teacher_loss,
                             [(opt, teacher.model.trainable_variables)], 1.0)
        sec = _time(lambda fn=fn: float(fn()["loss"]), args.steps)
        rows.append({"model": t_name, "step": "teacher MLM+NSP", "s_per_step": round(sec, 4),
                     "examples_per_s": round(args.batch / sec, 1)})
        print(json.dumps(rows[-1]), flush=True)

        student = build_pretrainer(s_cfg.encoder, name="student")
        teacher.model.trainable = False
        layer_map = resolve_layer_map(s_cfg.distill, s_cfg.encoder.num_layers, t_cfg.encoder.num_layers)
        distiller = Distiller(student, MobileBertTeacher(teacher), s_cfg, layer_map)
        for spec in (StageSpec("layer_0", "layer", 0, 100, 0, layer_map[0]), StageSpec("distill", "distill", 0, 100)):
            from mbert_cli.training.distiller import stage_variables

            trained, _ = stage_variables(student, spec)
            opt = build_optimizer(s_cfg.distill.optimizer, 100, "lamb")
            fn = make_train_step(dist, iter(tf.data.Dataset.from_tensors(batch).repeat()), distiller.loss_fn(spec),
                                 [(opt, trained)], 1.0, targets_fn=distiller.teacher_fn(spec))
            sec = _time(lambda fn=fn: float(fn()["loss"]), args.steps)
            rows.append({"model": s_name, "step": f"student {spec.name}", "s_per_step": round(sec, 4),
                         "examples_per_s": round(args.batch / sec, 1)})
            print(json.dumps(rows[-1]), flush=True)
    result = {"batch": args.batch, "seq": args.seq, "cpus": os.cpu_count(),
              "gpus": len(tf.config.list_physical_devices("GPU")), "rows": rows}
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
