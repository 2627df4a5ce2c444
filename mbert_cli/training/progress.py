"""Progress display: a rich bar (stage, step, loss, ETA) on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    """One bar per phase; `update` every step, plain output only every `log_every` steps."""

    def __init__(self, log_every: int = 20, enabled: bool = True, stream=None):
        self.log_every = max(1, log_every)
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self._rich = None
        self._task = None
        self._phase = ""
        self._start_time = 0.0
        self._start_step = 0
        self._end = 0

    def start(self, phase: str, start_step: int, end_step: int, first_step: int) -> None:
        """Begins a phase covering global steps [start_step, end_step), resuming at first_step."""
        self._phase, self._start_step, self._end = phase, first_step, end_step
        self._phase_start = start_step
        self._start_time = time.time()
        if not self.enabled:
            return
        if self.stream.isatty():
            self._rich = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"),
                                      TextColumn("{task.fields[info]}"), TimeRemainingColumn())
            self._rich.start()
            self._task = self._rich.add_task(phase, total=end_step - start_step,
                                             completed=first_step - start_step, info="")
        else:
            print(f"[{phase}] steps {first_step}..{end_step}", file=self.stream, flush=True)

    def update(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        info = " ".join(f"{k} {v:.4g}" for k, v in values.items() if isinstance(v, float))
        if self._rich is not None:
            self._rich.update(self._task, completed=step - self._phase_start, info=info)
        elif step % self.log_every == 0 or step == self._end:
            done = step - self._start_step
            rate = done / max(time.time() - self._start_time, 1e-9)
            eta = (self._end - step) / rate if rate > 0 else 0.0
            print(f"[{self._phase}] step {step}/{self._end} {info} eta {eta:.0f}s", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.console.print(text, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def stop(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
