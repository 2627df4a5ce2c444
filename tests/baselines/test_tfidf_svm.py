"""The TF-IDF + LinearSVC baseline: learns a separable toy task, scores by hand-countable rules,
and is deterministic on the shipped split."""

import pytest

from mbert_cli.baselines.tfidf_svm import TfidfSvmConfig, tfidf_svm_accuracy, train_tfidf_svm
from mbert_cli.data.classification import ClassificationExample
from mbert_cli.errors import MbertError


def _toy():
    pos = ["a wonderful film", "wonderful acting", "simply wonderful", "a wonderful story", "wonderful cast"]
    neg = ["a dreadful film", "dreadful acting", "simply dreadful", "a dreadful story", "dreadful cast"]
    return [ClassificationExample(t, None, 1) for t in pos] + [ClassificationExample(t, None, 0) for t in neg]


def test_learns_a_separable_task():
    train = _toy()
    validation = [ClassificationExample("wonderful music", None, 1), ClassificationExample("dreadful music", None, 0)]
    assert tfidf_svm_accuracy(train, validation, TfidfSvmConfig(min_df=1)) == 1.0


def test_accuracy_is_the_fraction_of_correct_predictions():
    # Two validation rows carry the wrong label on purpose: exactly half must be scored correct.
    validation = [ClassificationExample("wonderful music", None, 1), ClassificationExample("dreadful music", None, 0),
                  ClassificationExample("wonderful score", None, 0), ClassificationExample("dreadful score", None, 1)]
    assert tfidf_svm_accuracy(_toy(), validation, TfidfSvmConfig(min_df=1)) == 0.5


def test_one_label_is_refused():
    only_pos = [e for e in _toy() if e.label == 1]
    with pytest.raises(MbertError, match="two labels"):
        train_tfidf_svm(only_pos)


def test_shipped_split_is_deterministic_and_well_above_chance():
    from mbert_cli.data.classification import load_classification

    train, validation, _ = load_classification("shipped")
    first = tfidf_svm_accuracy(train, validation)
    assert first == tfidf_svm_accuracy(train, validation)
    majority = max(sum(e.label for e in validation), sum(1 - e.label for e in validation)) / len(validation)
    assert first > majority + 0.1
