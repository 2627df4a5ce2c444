"""float32 vs bfloat16 on this machine, side by side: why `training.precision` uses bfloat16 only on AMX.

    python -m studies.bf16_matmul [--shape 512x384x1536] [--presets minilm-student,bert-base]
        [--batch 16 --seq 64 --steps 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def _median_seconds(fn, repeats: int) -> float:
    fn()  # trace / warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_row(m: int, k: int, n: int, repeats: int) -> dict:
    """GFLOP/s of an (m x k) @ (k x n) matmul in float32 and bfloat16, and their ratio."""
    import tensorflow as tf

    a, b = tf.random.normal([m, k]), tf.random.normal([k, n])
    row = {"what": f"matmul {m}x{k} @ {k}x{n}"}
    for dtype in (tf.float32, tf.bfloat16):
        x, y = tf.cast(a, dtype), tf.cast(b, dtype)
        fn = tf.function(lambda x=x, y=y: tf.reduce_sum(tf.cast(tf.matmul(x, y), tf.float32)))
        sec = _median_seconds(lambda fn=fn: float(fn()), repeats)
        row[f"{dtype.name}_gflops"] = round(2 * m * k * n / sec / 1e9, 1)
    row["bf16_speedup"] = round(row["bfloat16_gflops"] / row["float32_gflops"], 2)
    return row


def training_step_row(preset: str, batch: int, seq: int, repeats: int) -> dict:
    """Seconds per MLM training step (forward, backward, Adam) of `preset`, float32 vs mixed_bfloat16."""

    from mbert_cli.config import resolve_config
    from mbert_cli.modeling.pretrainer import build_pretrainer, model_inputs
    from mbert_cli.training import losses, precision
    from mbert_cli.training.inputs import synthetic_pretraining

    cfg = resolve_config(preset, None, [f"data.seq_len={seq}", "data.max_predictions_per_seq=10"])
    data = next(iter(synthetic_pretraining(cfg, batch, training=False, num_batches=1)))
    row = {"what": f"{preset} MLM step, batch {batch} x seq {seq}"}
    for label, policy in (("float32", None), ("bfloat16", precision.MIXED)):
        with precision.precision_policy(policy):
            pm = build_pretrainer(cfg.encoder, name=f"m_{label}")
        step = _adam_step(pm.model, data, losses.pretraining_loss, model_inputs)
        row[f"{label}_s_per_step"] = round(_median_seconds(lambda step=step: float(step()), repeats), 4)
    row["bf16_speedup"] = round(row["float32_s_per_step"] / row["bfloat16_s_per_step"], 2)
    return row


def _adam_step(model, data, loss_fn, model_inputs):
    """One compiled forward + backward + Adam update of `model` on the fixed batch `data`."""
    import tensorflow as tf
    import tf_keras

    opt = tf_keras.optimizers.Adam(1e-4)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(model(model_inputs(data), training=True), data)["loss"]
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True))
        return loss

    return step


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="512x384x1536", help="m x k x n of the matmul")
    parser.add_argument("--presets", default="minilm-student,bert-base",
                        help="comma-separated presets to time a training step of ('' for none)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed repeats (median)")
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # the unused pooler's "no gradient" warning, every step
    from mbert_cli.training.precision import cpu_has_amx_bfloat16, onednn_enabled

    # oneDNN off (TF_ENABLE_ONEDNN_OPTS=0): bfloat16 runs on emulating kernels, far slower.
    print(json.dumps({"cpu_has_amx_bf16": cpu_has_amx_bfloat16(), "onednn": onednn_enabled()}), flush=True)
    m, k, n = (int(v) for v in args.shape.lower().split("x"))
    rows = [matmul_row(m, k, n, max(args.steps, 20))]
    print(json.dumps(rows[-1]), flush=True)
    for preset in filter(None, args.presets.split(",")):
        rows.append(training_step_row(preset, args.batch, args.seq, args.steps))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
