"""Each config field's valid range or choices, declared beside its default, checked in one pass.

A field is declared with `setting(default, ge=..., lt=..., choices=...)`: the bounds live in
the dataclass field's metadata, so the config classes are the one place that says what a
value may be. `check_settings` walks a config and raises one `MbertError` naming the key,
the value and the valid range; `describe_settings` lists every key with its default and
range for `mbert config --show`. Cross-field rules (a sequence length within the position
table) stay in `RunConfig.validate`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

from mbert_cli.errors import MbertError

_KEY = "mbert_range"


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds (closed with ge/le, open with gt/lt) or a set of choices; `each` for list items."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] = ()
    note: str = ""  # what a special value means, e.g. "0 = all"
    # Words a field takes alone instead of a number (`dynamic`); with `distinct`, a list of
    # numbers (each in range, none twice) is valid too: `export.seq_len` = 128 | [32, 128] | dynamic.
    words: tuple[str, ...] = ()
    distinct: bool = False

    def problem(self, value: Any) -> str | None:
        """Why `value` (a scalar or a list) is outside the range, or None when it is inside."""
        if isinstance(value, list):
            if self.distinct and not value:
                return "the list is empty"
            for item in value:
                if isinstance(item, str) and item in self.words:
                    return f"{item!r} must be alone"
                if not self.accepts(item):
                    return f"{item!r} is outside it"
            dupes = sorted({x for x in value if value.count(x) > 1}, key=str)
            if self.distinct and dupes:
                return f"{', '.join(map(str, dupes))} listed more than once"
            return None
        if isinstance(value, str) and self.words and value not in self.words:
            return f"{value!r} is not a whole number or {' / '.join(self.words)}"
        return None if self.accepts(value) else ""

    def accepts(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True  # strings and flags have no numeric bounds
        if isinstance(value, float) and not math.isfinite(value):
            return False  # nan and inf pass no comparison a person means
        return not ((self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt)
                    or (self.le is not None and value > self.le) or (self.lt is not None and value >= self.lt))

    def text(self) -> str:
        """The range as a person reads it: `>= 1`, `[0, 1)`, `one of: a, b`."""
        if self.choices:
            return "one of: " + ", ".join(self.choices)
        low = (f"[{_num(self.ge)}" if self.ge is not None else f"({_num(self.gt)}" if self.gt is not None else None)
        high = (f"{_num(self.le)}]" if self.le is not None else f"{_num(self.lt)})" if self.lt is not None else None)
        if low and high:
            body = f"{low}, {high}"
        elif low:
            body = (">= " if low[0] == "[" else "> ") + low[1:]
        elif high:
            body = ("<= " if high[-1] == "]" else "< ") + high[:-1]
        else:
            body = "any"
        if self.distinct:
            body += ", a list of distinct such values"
        if self.words:
            body += f", or {' / '.join(self.words)}"
        return f"{body} ({self.note})" if self.note else body


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
            ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
            choices: Sequence[str] = (), note: str = "", words: Sequence[str] = (), distinct: bool = False) -> Any:
    """A dataclass field whose metadata holds its valid range (checked by `check_settings`)."""
    rng = Range(ge=ge, gt=gt, le=le, lt=lt, choices=tuple(choices), note=note, words=tuple(words),
                distinct=distinct)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_KEY: rng})


def field_range(f: dataclasses.Field) -> Range | None:
    return f.metadata.get(_KEY)


def _leaves(config: Any, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any]]:
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f, value


def check_settings(config: Any, prefix: str = "") -> None:
    """Raises MbertError for the first value outside its declared range (list fields: each item)."""
    for key, f, value in _leaves(config, prefix):
        rng = field_range(f)
        if rng is None:
            continue
        valid = f"valid values: {', '.join(rng.choices)}" if rng.choices else f"valid range {rng.text()}"
        hint = f"pass a valid value with --set {key}=... or in the --config file"
        if rng.words or rng.distinct:
            why = rng.problem(value)
            if why is not None:
                raise MbertError(f"{key}={value!r} is invalid{f' ({why})' if why else ''}: {valid}", hint=hint)
            continue
        for item in (value if isinstance(value, list) else [value]):
            if not rng.accepts(item):
                shown = f"{item!r} in {value!r}" if isinstance(value, list) else repr(value)
                raise MbertError(f"{key}={shown} is invalid: {valid}", hint=hint)


def describe_settings(config: Any) -> list[dict[str, Any]]:
    """Every key of `config` with its type, value (the preset default unless overridden) and valid range."""
    rows = []
    for key, f, value in _leaves(config):
        rng = field_range(f)
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append({"key": key, "type": kind, "value": value, "range": rng.text() if rng else "any"})
    return rows
