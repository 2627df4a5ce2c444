"""`finetune.freeze_word_embeddings`: the word table stays as initialised, everything else trains."""

import re

import numpy as np
import pytest

from tests.training.conftest import tiny_config

# MobileBERT's table is word_embedding/embeddings, BERT's word_embeddings/embeddings (not the projection).
WORD_TABLE = re.compile(r"/word_embeddings?/embeddings/")


def _checkpoints(run, stage="finetune-classification") -> list[dict[str, np.ndarray]]:
    """Model weights (and the optimizer slots' names, under 'slots') of each checkpoint kept, oldest first."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(run / stage / "checkpoints"))
    out = []
    for path in state.all_model_checkpoint_paths:
        names = [n for n, _ in tf.train.list_variables(path)]
        weights = {n: tf.train.load_variable(path, n) for n in names
                   if n.startswith("model/") and "OPTIMIZER_SLOT" not in n}
        out.append({"weights": weights, "slots": [n for n in names if "OPTIMIZER_SLOT" in n]})
    return out


def test_frozen_word_table_stays_put_and_has_no_adam_state(tmp_path, quiet):
    from mbert_cli.training.finetune import train_finetune

    run = tmp_path / "run"
    cfg = tiny_config("nano-student", "finetune.steps=6", "finetune.learning_rate=1e-2",
                      "train.checkpoint_every=3", "finetune.freeze_word_embeddings=true")
    train_finetune(run, cfg, None, "classification", progress=False, say=quiet)
    (mid, last) = _checkpoints(run)  # steps 3 and 6
    before, after = mid["weights"], last["weights"]
    words = [n for n in after if WORD_TABLE.search(n)]
    assert len(words) == 1
    np.testing.assert_array_equal(after[words[0]], before[words[0]])
    moved = [n for n in after if n not in words and not np.array_equal(after[n], before[n])]
    assert len(moved) > 10  # the layers, the other embeddings and the head still train
    assert last["slots"] and not [n for n in last["slots"] if WORD_TABLE.search(n)]


def test_without_the_freeze_the_word_table_trains(tmp_path, quiet):
    from mbert_cli.training.finetune import train_finetune

    run = tmp_path / "run"
    cfg = tiny_config("nano-student", "finetune.steps=6", "finetune.learning_rate=1e-2", "train.checkpoint_every=3")
    train_finetune(run, cfg, None, "classification", progress=False, say=quiet)
    (mid, last) = _checkpoints(run)
    words = [n for n in last["weights"] if WORD_TABLE.search(n)]
    assert not np.array_equal(last["weights"][words[0]], mid["weights"][words[0]])
    assert [n for n in last["slots"] if WORD_TABLE.search(n)]


def test_resume_with_the_freeze_switched_is_refused(tmp_path, quiet):
    from mbert_cli.errors import MbertError
    from mbert_cli.training.finetune import train_finetune

    run = tmp_path / "run"
    train_finetune(run, tiny_config("nano-student", "finetune.steps=4", "finetune.freeze_word_embeddings=true"),
                   None, "classification", progress=False, say=quiet)
    with pytest.raises(MbertError, match=r"freeze_word_embeddings=true, not false") as err:
        train_finetune(run, tiny_config("nano-student", "finetune.steps=8"), None, "classification",
                       progress=False, say=quiet)
    assert "--set finetune.freeze_word_embeddings=true" in err.value.hint
