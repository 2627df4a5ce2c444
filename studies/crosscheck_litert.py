"""Our host runner's p50 and min against ai-edge-litert's own benchmark tool: are our figures right.

    python -m studies.crosscheck_litert            # = --make-models: mobilebert dynamic, seq 128
    python -m studies.crosscheck_litert --tiny     # nano-student dynamic, seq 64
    python -m studies.crosscheck_litert MODEL.tflite... [--threads 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics

from studies import _models
from studies._common import model_args, resolve_models


def crosscheck(model: str, threads: int = 1, runs: int = 50, warmup: int = 5, rounds: int = 3,
               with_min: bool = False) -> tuple[float, ...]:
    """Returns (our p50 ms, the LiteRT tool's median ms), each the median over `rounds`.

    With `with_min`, also (our min ms, the tool's min ms) over all rounds: on a shared
    machine the minimum is the figure least touched by other processes.
    """
    from benchmarks.host import HostSettings, run_host
    from studies._litert_tool import litert_tool_latency

    ours, theirs, our_min, their_min = [], [], [], []
    for _ in range(rounds):
        (r,) = run_host([model], HostSettings(threads=threads, runs=runs, warmup=warmup))
        ours.append(r.inference.p50_ms)
        our_min.append(r.inference.min_ms)
        lat = litert_tool_latency(model, threads=threads, runs=runs, warmup=warmup)
        theirs.append(lat["median_ms"])
        their_min.append(lat["min_ms"])
    p50s = (statistics.median(ours), statistics.median(theirs))
    return (*p50s, min(our_min), min(their_min)) if with_min else p50s


def agreement(ratio: float, tolerance: float) -> str:
    """The verdict column: 'agree' when our p50 is within `tolerance` of the tool's."""
    return "agree" if abs(ratio - 1) <= tolerance else f"DIFFER (> {tolerance:.0%})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_args(parser, default_make=True)
    parser.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.10)
    args = parser.parse_args(argv)
    models = resolve_models(args, variants=[_models.SUITE_DYNAMIC], tiny_variants=[_models.TINY_DYNAMIC])
    print(f"{'model':38s} {'threads':>7s} {'mbert p50':>10s} {'litert p50':>11s} {'p50 x':>7s} {'mbert min':>10s} "
          f"{'litert min':>11s} {'min x':>7s}  verdict (p50)")
    for threads in (int(t) for t in args.threads.split(",")):
        for model in models:
            ours, theirs, our_min, their_min = crosscheck(model, threads, args.runs, args.warmup, args.rounds,
                                                          with_min=True)
            ratio = ours / theirs if theirs else float("nan")
            verdict = agreement(ratio, args.tolerance)
            name = model.rsplit("/", 1)[-1]
            print(f"{name:38s} {threads:7d} {ours:10.3f} {theirs:11.3f} {ratio:6.3f}x {our_min:10.3f} "
                  f"{their_min:11.3f} {our_min / their_min if their_min else float('nan'):6.3f}x  {verdict}")
    print("note: the LiteRT tool reports ms rounded to 0.01, so sub-millisecond models compare coarsely")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
