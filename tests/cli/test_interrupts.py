"""Ctrl-C stops a run even when its KeyboardInterrupt is swallowed by a finaliser."""

from __future__ import annotations

import signal

import pytest

from mbert_cli import interrupts


def _swallowing_sigint():
    """Delivers SIGINT where Python would swallow the KeyboardInterrupt (as in a `__del__`)."""
    try:
        # raise_signal signals this thread and runs the handler before returning; os.kill to
        # the process may land on a TensorFlow thread and be handled later, outside the try.
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        pass  # what "Exception ignored in __del__" amounts to


@pytest.fixture(autouse=True)
def ctrl_c_enabled():
    """Python's own SIGINT handler, whatever the test runner was started with (CI may ignore SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_swallowed_ctrl_c_is_still_seen_by_check():
    before = signal.getsignal(signal.SIGINT)
    with interrupts.catching_ctrl_c():
        assert signal.getsignal(signal.SIGINT) is not before
        interrupts.check()  # nothing pressed yet
        _swallowing_sigint()
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    interrupts.check()  # reset once the command is over
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back


def test_the_step_loop_stops_at_the_next_step(tmp_path):
    import tensorflow as tf

    from mbert_cli.training.distribute import make_distribution
    from mbert_cli.training.loop import Phase, Trainer
    from mbert_cli.training.progress import Progress
    from mbert_cli.training.run_dir import StageDir

    steps_run = []

    def step_fn():
        steps_run.append(1)
        if len(steps_run) == 3:
            _swallowing_sigint()  # Ctrl-C during step 3, swallowed
        return {"loss": tf.constant(1.0)}

    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    model.build((None, 2))
    step_var = tf.Variable(0, dtype=tf.int64)
    trainer = Trainer(StageDir(tmp_path, "t").make(), model, step_var, make_distribution("default"), log_every=100,
                      checkpoint_every=100, examples_per_step=1, progress=Progress(1, enabled=False))
    with interrupts.catching_ctrl_c(), pytest.raises(KeyboardInterrupt):
        trainer.run(Phase("t", 0, 10, step_fn, {}))
    trainer.close()
    assert len(steps_run) == 3  # stopped before step 4


def test_an_ignored_ctrl_c_stays_ignored():
    """Started with SIGINT ignored (nohup, `cmd &`): the command leaves it so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with interrupts.catching_ctrl_c():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
