"""Test-only fault injection: a non-finite loss at a chosen step, to exercise the NaN stop.

Patches the step loop for the duration of a test (pytest's monkeypatch), so the product
code carries no fault switch. The loss the loop sees at global step `step` (1-based) is
NaN; everything else about the step is real.
"""

from __future__ import annotations

import dataclasses


def nan_loss_at_step(monkeypatch, step: int) -> None:
    """From now until the test ends (or `monkeypatch.undo()`), step `step` reports a NaN loss."""
    from mbert_cli.training.loop import Trainer

    real_run = Trainer.run

    def run(self, phase):
        real_step = phase.step_fn

        def step_fn():
            out = real_step()
            if int(self.step_var.numpy()) + 1 == step:
                out = {**out, "loss": float("nan")}
            return out

        return real_run(self, dataclasses.replace(phase, step_fn=step_fn))

    monkeypatch.setattr(Trainer, "run", run)
