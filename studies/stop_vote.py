"""What the multi-worker stop vote costs per step: two local workers time it beside a gradient all-reduce.

    python -m studies.stop_vote [--calls 200] [--floats 4000000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time


def _worker(calls: int, floats: int) -> dict:
    import tensorflow as tf

    from mbert_cli.training.distribute import Distribution, make_stop_vote

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    vote = make_stop_vote(Distribution(strategy, "multiworker"))
    grads = tf.ones([floats], tf.float32)

    @tf.function
    def reduce_grads(g):
        def replica_fn(x):
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(x))

        return strategy.experimental_local_results(strategy.run(replica_fn, args=(g,)))[0]

    vote(0), reduce_grads(grads).numpy()  # trace and warm up both
    t0 = time.perf_counter()
    for _ in range(calls):
        vote(0)
    t_vote = (time.perf_counter() - t0) / calls
    t0 = time.perf_counter()
    for _ in range(calls):
        reduce_grads(grads).numpy()
    t_grads = (time.perf_counter() - t0) / calls
    return {"vote_ms": 1000 * t_vote, "grads_ms": 1000 * t_grads}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls of each (after one warm-up)")
    parser.add_argument("--floats", type=int, default=4_000_000,
                        help="gradient size all-reduced for comparison (4M floats: a few-layer model)")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(_worker(args.calls, args.floats)), flush=True)
        return 0
    socks = [socket.socket() for _ in range(2)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]}
    for s in socks:
        s.close()
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen([sys.executable, "-m", "studies.stop_vote", "--worker", str(index),
                                       "--calls", str(args.calls), "--floats", str(args.floats)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            print(err, file=sys.stderr)
            return 1
        results.append(json.loads(out.strip().splitlines()[-1]))
    vote = max(r["vote_ms"] for r in results)
    grads = max(r["grads_ms"] for r in results)
    print(f"two workers on 127.0.0.1, {args.calls} calls each, slower worker's mean per call:")
    print(f"{'stop vote (2 floats)':<32}{vote:>10.2f} ms   1.00x")
    print(f"{f'gradient all-reduce ({args.floats / 1e6:g}M floats)':<32}{grads:>10.2f} ms   {grads / vote:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
