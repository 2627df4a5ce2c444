"""TF-IDF character n-grams + a linear SVM: the classic strong baseline for short-text sentiment.

A MobileBERT student earns its place on a phone only if it beats what a few kilobytes of
scikit-learn already do, so the demo's summary carries this row on the same split.
Character n-grams (2-5, within word boundaries) are used rather than words because they
cope with the misspellings and word forms a small labelled set does not cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from mbert_cli.data.classification import ClassificationExample
from mbert_cli.errors import MbertError


@dataclass(frozen=True)
class TfidfSvmConfig:
    """Feature and classifier settings; the defaults are the ones the README's figure uses."""

    ngram_min: int = 2
    ngram_max: int = 5
    min_df: int = 2
    sublinear_tf: bool = True
    c: float = 1.0  # scikit-learn's default; not tuned on the validation split


def _texts(examples: list[ClassificationExample]) -> list[str]:
    # A pair task is read as one string; the [SEP]-like marker keeps the two sides apart.
    return [e.text_a if e.text_b is None else f"{e.text_a} ||| {e.text_b}" for e in examples]


def train_tfidf_svm(train: list[ClassificationExample], cfg: TfidfSvmConfig = TfidfSvmConfig()):
    """Fits the TF-IDF + LinearSVC pipeline on `train`; returns the fitted scikit-learn pipeline."""
    if len({e.label for e in train}) < 2:
        raise MbertError("the TF-IDF baseline needs training examples of at least two labels",
                         hint="check the task data's label column")
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(cfg.ngram_min, cfg.ngram_max), min_df=cfg.min_df,
                        sublinear_tf=cfg.sublinear_tf, lowercase=True),
        LinearSVC(C=cfg.c, random_state=0),  # seeded: liblinear shuffles in its dual solver
    )
    pipeline.fit(_texts(train), [e.label for e in train])
    return pipeline


def tfidf_svm_accuracy(train: list[ClassificationExample], validation: list[ClassificationExample],
                       cfg: TfidfSvmConfig = TfidfSvmConfig()) -> float:
    """Validation accuracy of the baseline trained on `train` (deterministic: the solver is seeded)."""
    if not validation:
        raise MbertError("no validation examples to score the TF-IDF baseline on", hint="check the task data")
    pipeline = train_tfidf_svm(train, cfg)
    predicted = pipeline.predict(_texts(validation))
    return sum(int(p == e.label) for p, e in zip(predicted, validation, strict=True)) / len(validation)
