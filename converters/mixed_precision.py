"""Accuracy-driven mixed precision: when the int8 file fails the gate, find one that passes.

The float file is calibrated once with `litert-quantizer`; its full-int8 build (same float
attention as the export's) is compared tensor by tensor with the float file
(quant_diagnosis), and the layer parts with the worst error are given more precision, worst
first: the first 1, 2, 4, ... parts with 16-bit activations, then the same parts in float
(16-bit no more once a failing 16-bit file measures slower than its float twin: `int16_loses`).
Every candidate is scored by the export's own gate (`converter.verify_bytes`: task metric on
the held-out rows, parity) and timed on the host (1 thread); the passing candidate with the
lowest p50 is kept. A budget (seconds or candidates) bounds the search.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from converters import quant_diagnosis as qd
from converters import quantize
from converters.shared_tables import share_quantization
from mbert_cli.errors import MbertError
from mbert_cli.runtime import load_runtime

DEFAULT_BUDGET_SECONDS = 300.0
LATENCY_RUNS = 15


@dataclass(frozen=True)
class SearchBudget:
    """How long the search may run: wall seconds, or candidates built (whichever is given)."""

    seconds: float | None = DEFAULT_BUDGET_SECONDS
    candidates: int | None = None

    @classmethod
    def parse(cls, text: str | float | int | None) -> SearchBudget:
        """`300` or `300s`: seconds; `8c`: candidates. Zero or less is a user error."""
        if text is None:
            return cls()
        raw = str(text).strip().lower()
        m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(s|c)?", raw)
        if not m:
            raise MbertError(f"--search-budget {text!r} is not a number of seconds (300, 300s) or candidates (8c)",
                             hint="for example --search-budget 300 or --search-budget 8c")
        value = float(m.group(1))
        if value <= 0:
            raise MbertError(f"--search-budget must be positive, got {text}",
                             hint="give seconds (300) or candidates (8c); --force keeps a failing int8 file instead")
        if m.group(2) == "c":
            if value != int(value):
                raise MbertError(f"--search-budget {text}: a candidate count is a whole number", hint="e.g. 8c")
            return cls(seconds=None, candidates=int(value))
        return cls(seconds=value, candidates=None)

    def exhausted(self, started: float, built: int) -> bool:
        if self.seconds is not None and time.monotonic() - started >= self.seconds:
            return True
        return self.candidates is not None and built >= self.candidates

    def describe(self) -> str:
        return f"{self.candidates} candidates" if self.candidates is not None else f"{self.seconds:g} s"


@dataclass
class Candidate:
    """One file the search built and scored."""

    name: str
    overrides: list[dict]  # [{"group", "precision", "tensors"}], in the order applied
    passes: bool
    gate_failures: list[str]
    metric: dict | None
    cosine: float | None
    p50_ms: float
    size_bytes: int
    build_s: float
    content: bytes = field(default=b"", repr=False)
    checked: Any = field(default=None, repr=False)  # the ConvertedFile verify_bytes returned

    def summary(self) -> dict:
        return {"name": self.name, "passes": self.passes, "gate_failures": self.gate_failures,
                "metric": self.metric, "cosine": self.cosine, "p50_ms": round(self.p50_ms, 3),
                "size_bytes": self.size_bytes, "build_s": round(self.build_s, 2),
                "recipe": [{"group": o["group"], "precision": o["precision"]} for o in self.overrides]}

    def line(self) -> str:
        acc = f"{self.metric['name']} {self.metric['tflite']:.2f} (drop {self.metric['drop']:.2f})" \
            if self.metric else f"cosine {self.cosine:.4f}"
        return (f"  {self.name:<28} {'PASS' if self.passes else 'fail'}  {acc}, p50 {self.p50_ms:.2f} ms, "
                f"{self.size_bytes / 1e6:.2f} MB")


@dataclass
class SearchResult:
    """The search's trace and what it kept."""

    chosen: Candidate | None
    candidates: list[Candidate]
    seconds: float
    budget: SearchBudget
    reference: dict  # the failing converter int8 file's figures
    worst_groups: list[str]

    def manifest(self) -> dict:
        """What manifest.json records: the final recipe, every candidate, the search time."""
        chosen = self.chosen
        return {"tool": "litert-quantizer", "budget": self.budget.describe(), "search_s": round(self.seconds, 1),
                "chosen": chosen.name if chosen else None,
                "recipe": ([{"group": o["group"], "precision": o["precision"], "tensors": o["tensors"]}
                            for o in chosen.overrides] if chosen else None),
                "base": "int8 everywhere else; attention softmax/matmuls/mask add float as the export's int8",
                "reference_int8": self.reference, "worst_groups": self.worst_groups,
                "candidates": [c.summary() for c in self.candidates]}


def host_p50_ms(content: bytes, key: str, row: dict, runs: int = LATENCY_RUNS) -> float:
    """Median wall time of one invoke on one row, 1 thread, XNNPACK (the runtime's default)."""
    runner = load_runtime().interpreter(model_content=content, num_threads=1).get_signature_runner(key)
    feed = {k: np.ascontiguousarray(v) for k, v in row.items()}
    for _ in range(3):
        runner(**feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        runner(**feed)
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


def int16_loses(built: list[Candidate]) -> bool:
    """True once a failing int16 candidate ran slower on this host than its float twin (same
    groups in float). Float activations are the exact ones, so more groups at int16 would be
    no more accurate than the same groups in float, and slower still: on CPUs without fast
    int16 kernels (XNNPACK on x86) the search then tries float only and reaches a passing
    file within its budget."""
    by_name = {c.name: c for c in built}
    for cand in built:
        twin = by_name.get(cand.name.removesuffix("-int16") + "-float") if cand.name.endswith("-int16") else None
        if twin is not None and not cand.passes and cand.p50_ms > twin.p50_ms:
            return True
    return False


def _plan(groups: list[tuple[str, list[str]]]) -> list[tuple[str, list[dict]]]:
    """Candidates in search order: the worst 1, 2, 4, ... groups at int16, each followed by the
    same groups in float (the int16 ones are skipped once `int16_loses`); never every group in float."""
    plan = []
    k = 1
    while groups:
        chosen = groups[:k]
        for precision in ("int16", "float"):
            if precision == "float" and len(chosen) == len(groups):
                continue  # every group in float is the float model under an int8 name: not a candidate
            name = f"worst{len(chosen)}-{precision}"
            plan.append((name, [{"group": label, "precision": precision, "tensors": tensors}
                                for label, tensors in chosen]))
        if k >= len(groups):
            break
        k = min(2 * k, len(groups))
    return plan


def search(float_model: bytes, serving: Any, data: Any, options: Any, checks: list, model_name: str,
           reference: Any, say: Callable[[str], None], cache: dict | None = None, *,
           verify: Callable[..., Any]) -> SearchResult:
    """Builds and scores candidates until one passes (then its float twin, for latency) or the budget ends.

    `reference`: the converter's failing int8 ConvertedFile (its figures go in the trace).
    `cache`: shared with --explain (the calibration and the diagnosis are computed once).
    `verify`: the export's gate, `converter.verify_bytes` (passed in: the converter calls this module).
    """
    cache = cache if cache is not None else {}
    budget = options.search or SearchBudget()
    started = time.monotonic()
    scored = replace(options, force=True)  # figures for every candidate; the search decides
    longest = checks[-1]
    time_row = {k: v[:1] for k, v in longest.rows.items()}
    ref_p50 = host_p50_ms(reference.content, longest.key, time_row)
    ref_fig = {"metric": reference.task_metric, "cosine": (reference.parity or {}).get("cosine"),
               "gate_failures": reference.gate_failures, "p50_ms": round(ref_p50, 3), "size_bytes": reference.size_bytes}
    say(f"int8 fails the gate ({'; '.join(reference.gate_failures)}); searching mixed precision "
        f"(litert-quantizer, budget {budget.describe()})")
    calibration = cache.get("calibration")
    if calibration is None:
        calibration = cache["calibration"] = qd.calibrate(float_model, qd.calibration_rows(serving, data,
                                                                                           options.representative))
    mask_nodes = quantize.mask_add_nodes(float_model)
    candidates: list[Candidate] = []

    def build(name: str, overrides: list[dict]) -> Candidate:
        t = time.monotonic()
        pairs = [(quantize.exact_names_regex(o["tensors"]), o["precision"]) for o in overrides]
        content = qd.library_build(float_model, quantize.library_int8_recipe(
            mask_nodes, options.int8_float_attention, pairs), calibration)
        try:
            content = share_quantization(content)
        except Exception:  # noqa: BLE001 - a size saving only; the library's bytes stand
            pass
        checked = verify(content, "int8", model_name, scored, data, longest.reference, longest.float_metric,
                         lambda _m: None, checks=checks)
        cand = Candidate(name=name, overrides=overrides, passes=not checked.gate_failures,
                         gate_failures=checked.gate_failures, metric=checked.task_metric,
                         cosine=(checked.parity or {}).get("cosine"),
                         p50_ms=host_p50_ms(content, longest.key, time_row), size_bytes=len(content),
                         build_s=time.monotonic() - t, content=content, checked=checked)
        candidates.append(cand)
        say(cand.line())
        return cand

    base = build("int8-library", [])
    rows = cache.get("int8_rows")
    if rows is None:
        rows = cache["int8_rows"] = qd.compare(float_model, base.content, qd.signature_rows(serving, data, 16))
    groups = qd.groups_worst_first(rows)
    first_pass = base.passes
    for name, overrides in ([] if base.passes else _plan(groups)):
        if overrides[0]["precision"] == "int16" and int16_loses(candidates):
            continue
        if budget.exhausted(started, len(candidates)):
            say(f"  search budget ({budget.describe()}) spent")
            break
        cand = build(name, overrides)
        if first_pass:
            break  # the passing step's float twin is built; fewer-fallback files are already tried
        first_pass = cand.passes
        if cand.passes and overrides[0]["precision"] == "float":
            break
    passing = [c for c in candidates if c.passes]
    chosen = min(passing, key=lambda c: c.p50_ms) if passing else None
    result = SearchResult(chosen, candidates, time.monotonic() - started, budget, ref_fig,
                          [label for label, _t in groups[:15]])
    if chosen is None:
        say(qd.table(rows, title="int8: per-layer quantization error (worst first)"))
        raise MbertError(f"int8 export failed verification: {'; '.join(reference.gate_failures)}; the mixed-precision "
                         f"search built {len(candidates)} candidate(s) in {result.seconds:.0f} s and none passed",
                         hint="raise --search-budget, use --quantize dynamic, or --force to keep the int8 file")
    say(f"kept {chosen.line().strip()} (converter int8: p50 {ref_p50:.2f} ms); "
        f"search {result.seconds:.0f} s, {len(candidates)} candidate(s)")
    return result
