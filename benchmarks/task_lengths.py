"""The latency a task's requests see: its token-length distribution served by length buckets.

A request of n word pieces ([CLS] and [SEP] included) runs on the smallest measured length
that holds it (longer ones on the longest, truncated, as the fine-tune truncates). Its
latency is drawn from that length's measured samples, so the task's p50/p90 are
percentiles of the mixture: each length's samples weighted by the share of requests it
serves. The fixed-length figure is the longest length's own p50/p90, what every request
pays with a single-length file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.result import BenchResult, TaskLengths
from converters.lengths import bucket_for
from mbert_cli.config import load_run_config, resolve_config
from mbert_cli.data.classification import load_classification
from mbert_cli.data.tokenizer import WordPieceTokenizer
from mbert_cli.data.vocab import resolve_vocab
from mbert_cli.errors import MbertError

_DATA_HINT = ("pass 'shipped' (the sentiment task's validation split), a CSV/TSV with a `sentence` "
              "(or `sentence1`, `sentence2`) column and a label, or a .txt file with one request per line")


def read_texts(spec: str) -> tuple[list[tuple[str, str | None]], str]:
    """(text, optional second text) per request, and a label for the source."""
    if spec == "shipped":
        _train, dev, _names = load_classification("shipped")
        return [(e.text_a, e.text_b) for e in dev], "shipped sentiment task, validation split"
    path = Path(spec).expanduser()
    if not path.is_file():
        raise MbertError(f"--lengths-from: data file not found: {path}", hint=_DATA_HINT)
    if path.suffix.lower() == ".txt":
        try:
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        except UnicodeDecodeError as err:
            raise MbertError(f"--lengths-from: {path} is not UTF-8 (byte {err.start})",
                             hint="save it as UTF-8") from None
        rows = [(ln, None) for ln in lines if ln]
        if not rows:
            raise MbertError(f"--lengths-from: {path} has no rows", hint=_DATA_HINT)
        return rows, str(path)
    train, dev, _names = load_classification(str(path))  # raises on a header without rows
    rows = [(e.text_a, e.text_b) for e in train + dev]
    if not rows:
        raise MbertError(f"--lengths-from: {path} has no rows", hint=_DATA_HINT)
    return rows, str(path)


def token_lengths(rows: Sequence[tuple[str, str | None]], vocab: str | Path) -> list[int]:
    """Word pieces per request with the model's vocab, [CLS]/[SEP] included (BERT layout)."""
    tok = WordPieceTokenizer(vocab)
    first = tok.tokenize([a for a, _ in rows])
    pairs = [b for _, b in rows]
    second = tok.tokenize([b for b in pairs if b is not None]) if any(b is not None for b in pairs) else []
    it = iter(second)
    return [len(a) + 2 + (len(next(it)) + 1 if b is not None else 0) for a, b in zip(first, pairs, strict=True)]


def model_vocab(model_path: str | Path) -> Path:
    """The vocab a model was trained with, found through the export manifest beside it
    (its source run's config, else its preset's shipped vocab)."""
    p = Path(model_path)
    hint = "pass --vocab PATH (the vocab.txt the model was trained with)"
    try:
        manifest = json.loads((p.parent / "manifest.json").read_text())
    except (OSError, ValueError):
        raise MbertError(f"cannot tell which vocab {p.name} uses: no manifest.json beside it", hint=hint) from None
    entry = next((e for e in manifest.get("files", []) if e.get("file") == p.name), {})
    source = entry.get("source") or manifest.get("source") or {}
    run = source.get("run")
    if run and (Path(run) / "config.yaml").is_file():
        cfg = load_run_config(run)
    elif source.get("preset"):
        cfg = resolve_config(source["preset"])
    else:
        raise MbertError(f"cannot tell which vocab {p.name} uses: its manifest names no run or preset", hint=hint)
    return resolve_vocab(cfg.data.vocab, cfg.encoder.vocab_size)


def served_latency(model: str, data: str, lengths: Sequence[int],
                   results: Sequence[BenchResult]) -> TaskLengths:
    """The task's latency through `results` (one model, one result per measured length).

    Args:
        model: the model's name (for the table).
        data: where the lengths came from.
        lengths: token count per request.
        results: the model's per-length results (`requested_seq_len` set), any order.
    """
    if not lengths:
        raise MbertError(f"--lengths-from {data} has no rows", hint=_DATA_HINT)
    by_len = {r.requested_seq_len: r for r in results if r.requested_seq_len is not None}
    measured = sorted(by_len)
    longest = measured[-1]
    served = Counter(bucket_for(n, measured) or longest for n in lengths)
    samples, weights = [], []
    for n, count in served.items():
        s = np.asarray(by_len[n].samples_ms, dtype=np.float64)
        samples.append(s)
        weights.append(np.full(len(s), count / len(s) / len(lengths)))
    p50, p90 = _weighted_percentiles(np.concatenate(samples), np.concatenate(weights), (50, 90))
    top = by_len[longest]
    top_samples = np.asarray(top.samples_ms, dtype=np.float64)
    fixed50, fixed90 = _weighted_percentiles(top_samples, np.ones(len(top_samples)), (50, 90))
    return TaskLengths(
        model=model, data=data, requests=len(lengths), token_p50=float(np.percentile(lengths, 50)),
        token_p90=float(np.percentile(lengths, 90)), truncated=sum(n > longest for n in lengths),
        served={str(k): int(v) for k, v in sorted(served.items())}, p50_ms=p50, p90_ms=p90,
        fixed_seq_len=int(top.seq_len or longest), fixed_p50_ms=fixed50,
        fixed_p90_ms=fixed90)


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Percentiles of a weighted sample: the smallest value whose cumulative weight reaches q%."""
    order = np.argsort(values)
    v, cum = values[order], np.cumsum(weights[order])
    cum /= cum[-1]
    return [float(v[min(np.searchsorted(cum, q / 100.0), len(v) - 1)]) for q in qs]


class PreparedTask:
    """A task's token lengths per model (one vocab per model), tokenized before any run."""

    def __init__(self, data: str, lengths_by_model: dict[str, list[int]]):
        self.data = data
        self.lengths_by_model = lengths_by_model

    def summarise(self, results: Sequence[BenchResult]) -> list[TaskLengths]:
        """One TaskLengths per (model, runner) that has per-length results."""
        groups: dict[tuple[str, str], list[BenchResult]] = {}
        for r in results:
            if r.requested_seq_len is not None:
                groups.setdefault((r.model.path, r.runner.label), []).append(r)
        out = []
        for (path, runner), rs in groups.items():
            name = rs[0].model.name if runner == "host" else f"{rs[0].model.name} on {runner}"
            out.append(served_latency(name, self.data, self.lengths_by_model[str(Path(path))], rs))
        return out


def prepare_task(spec: str, models: Sequence[str | Path], vocab: str | Path | None = None) -> PreparedTask:
    """Reads the task data and tokenizes it with each model's vocab (`vocab` for all, if given)."""
    rows, label = read_texts(spec)
    by_vocab: dict[Path, list[int]] = {}
    per_model = {}
    for m in models:
        v = Path(vocab) if vocab is not None else model_vocab(m)
        if v not in by_vocab:
            by_vocab[v] = token_lengths(rows, v)
        per_model[str(Path(m))] = by_vocab[v]
    return PreparedTask(label, per_model)
