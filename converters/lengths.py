"""Sequence lengths an export serves: parsing `--seq-len`, bucket choice, shorter rows.

A file can serve one length (one `serving_default` signature, as before), several lengths
(one signature per length, `seq32`, `seq64`, ..., sharing the weight buffers), or any
length up to the position table (`dynamic`: one signature with a [1, -1] sequence
dimension that the runtime resizes). Measured on nano-student and mobilebert
(`studies/seq_lengths.py`): the per-length signatures run exactly as fast as a
file exported at that length and XNNPACK takes the same nodes, while the dynamic graph adds
SHAPE/PACK/STRIDED_SLICE nodes XNNPACK does not take and runs slower at every length, so
the multi-signature file is the design `--seq-len 32,64,128` produces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from converters.signatures import SIGNATURE_KEY
from mbert_cli.errors import MbertError

DYNAMIC = "dynamic"
_HINT = "pass one length (128), a comma-separated list (32,64,128) or 'dynamic'"


@dataclass(frozen=True)
class LengthSpec:
    """The lengths a file serves: sorted, distinct; `dynamic` means any up to `max_len`."""

    lengths: tuple[int, ...]
    dynamic: bool = False

    @property
    def max_len(self) -> int:
        return max(self.lengths)

    @property
    def multi(self) -> bool:
        """True when the file has one signature per length."""
        return not self.dynamic and len(self.lengths) > 1

    def signature_keys(self) -> dict[str, int | None]:
        """Signature key -> the fixed length it serves (None: resizable)."""
        if self.dynamic:
            return {SIGNATURE_KEY: None}
        if not self.multi:
            return {SIGNATURE_KEY: self.lengths[0]}
        return {signature_key(n): n for n in self.lengths}

    def file_tag(self) -> str:
        """What goes after `_seq` in a file name: 128, 32-64-128 or dyn."""
        return "dyn" if self.dynamic else "-".join(str(n) for n in self.lengths)


def signature_key(length: int) -> str:
    """`seq32`: the signature of the 32-token bucket in a multi-length file."""
    return f"seq{length}"


def parse_lengths(text: str | int | Iterable, max_len: int | None = None, option: str = "--seq-len",
                  allow_dynamic: bool = True, what: str = "the model's position table") -> LengthSpec:
    """Parses `128`, `32,64,128` or `dynamic` into a LengthSpec; one-line errors otherwise.

    Args:
        text: the option's value (a str, an int, or a list of them).
        max_len: the longest length allowed (the position table); None: no upper check.
        option: the option name used in error messages.
        allow_dynamic: whether `dynamic` is accepted.
        what: what `max_len` is, for the error message.
    """
    if isinstance(text, int):
        items = [str(text)]
    elif isinstance(text, str):
        items = [t.strip() for t in text.split(",")]
    else:
        items = [t.strip() for x in text for t in str(x).split(",")]
    if allow_dynamic and [t.lower() for t in items] == [DYNAMIC]:
        if max_len is None:
            raise MbertError(f"{option} dynamic needs the model's position table size", hint=_HINT)
        return LengthSpec((max_len,), dynamic=True)
    values: list[int] = []
    for t in items:
        if not t:
            raise MbertError(f"{option} {text!s} has an empty item", hint=_HINT)
        if not re.fullmatch(r"[+-]?\d+", t):
            extra = " (dynamic must be alone)" if t.lower() == DYNAMIC else ""
            raise MbertError(f"{option}: {t!r} is not a whole number{extra}", hint=_HINT)
        n = int(t)
        if n <= 0:
            raise MbertError(f"{option}: sequence length {n} is not positive", hint=_HINT)
        if max_len is not None and n > max_len:
            raise MbertError(f"{option}: sequence length {n} is beyond {what} ({max_len} positions)",
                             hint=f"use lengths up to {max_len}")
        values.append(n)
    dupes = sorted({n for n in values if values.count(n) > 1})
    if dupes:
        raise MbertError(f"{option} lists {', '.join(map(str, dupes))} more than once",
                         hint="give each length once, e.g. 32,64,128")
    return LengthSpec(tuple(sorted(values)))


def bucket_for(n: int, lengths: Sequence[int]) -> int | None:
    """The smallest length in `lengths` that holds `n` tokens, or None if none does."""
    fitting = [x for x in lengths if x >= n]
    return min(fitting) if fitting else None


def truncate_rows(rows: dict[str, np.ndarray], length: int) -> dict[str, np.ndarray]:
    """Rows made at a longer length, cut to `length` tokens (the inputs a shorter file gets).

    Rows whose real tokens fit keep every real token and only lose padding, so their
    outputs must not change; longer rows are cut, as a tokenizer truncating at `length`
    would (without re-adding a final [SEP]).
    """
    out = {}
    for name, arr in rows.items():
        arr = np.asarray(arr)
        if arr.ndim >= 2:
            _check_fits(arr.shape[1], length)
        out[name] = np.ascontiguousarray(arr[:, :length]) if arr.ndim >= 2 else arr
    return out


def _check_fits(tokens: int, length: int) -> None:
    """Rows of `tokens` tokens can give `length`-token rows only if `length <= tokens`."""
    if tokens < length:
        raise MbertError(f"rows of {tokens} tokens cannot be cut to {length}",
                         hint="build the export data at the longest length")


def calibration_windows(rows: dict[str, np.ndarray], length: int) -> dict[str, np.ndarray]:
    """Rows made at a longer length, tiled into `length`-token windows (the last one ends at
    the row's end): the int8 calibration rows of a shorter signature in a multi-length file.

    Why windows and not `truncate_rows`: the quantizer takes the word table's scale from
    the calibrated range of the embedding lookup, so a signature calibrated on the first
    `length` tokens only sees fewer words, gets a (slightly) different scale and the
    converter stores a second copy of the table (a word table's worth of bytes per extra
    signature). The windows hold every token the longest signature sees, so every
    signature gets the same range and shares the table. Windows with no real token are
    dropped except the first such one (it holds the padding id the full rows hold too), so
    short real data does not multiply calibration time by padding.
    """
    ids = np.asarray(rows["input_word_ids"])
    full = ids.shape[1]
    _check_fits(full, length)
    if full == length:
        return {name: np.asarray(arr) for name, arr in rows.items()}
    starts = list(range(0, full - length + 1, length))
    if starts[-1] + length < full:
        starts.append(full - length)
    mask = np.asarray(rows["input_mask"]) if "input_mask" in rows else np.ones_like(ids)
    keep: list[tuple[int, int]] = []
    padding_kept = False
    for i in range(len(ids)):
        for s in starts:
            real = bool(mask[i, s:s + length].any())
            if real or not padding_kept:
                keep.append((i, s))
                padding_kept = padding_kept or not real
    out = {}
    for name, arr in rows.items():
        arr = np.asarray(arr)
        out[name] = np.stack([arr[i, s:s + length] for i, s in keep]) if arr.ndim >= 2 else arr
    return out
