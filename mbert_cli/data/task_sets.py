"""A run's fine-tuning data: the tokenizer of its model, and its SQuAD train/dev splits.

Training, evaluation and export all read task rows through here, so a model is scored on
exactly the windows it was fine-tuned on.
"""

from __future__ import annotations

from pathlib import Path

from mbert_cli.data.squad import load_squad, make_squad_from_corpus, squad_features
from mbert_cli.data.tokenizer import WordPieceTokenizer
from mbert_cli.data.vocab import resolve_vocab
from mbert_cli.errors import MbertError


def task_tokenizer(cfg):
    """The WordPiece tokenizer of `cfg.data.vocab`, checked against the model's vocabulary size."""
    tok = WordPieceTokenizer(resolve_vocab(cfg.data.vocab, cfg.encoder.vocab_size))
    if tok.vocab_size != cfg.encoder.vocab_size:
        raise MbertError(f"the tokenizer vocabulary has {tok.vocab_size} tokens but the model has "
                         f"{cfg.encoder.vocab_size}", hint="use the vocab the model was trained with (data.vocab)")
    return tok


def load_squad_splits(cfg, data: str | None, run: Path | None = None):
    """(train examples, dev examples) for `data` ('shipped' or a SQuAD JSON path)."""
    spec = data or cfg.data.task_data
    limit = cfg.finetune.max_examples
    if spec == "shipped":
        folder = Path(run or ".") / "data" / "squad"
        paths = {}
        for split in ("train", "dev"):
            paths[split] = folder / f"{split}.json"
            if not paths[split].is_file():
                make_squad_from_corpus(split, limit, out_path=paths[split])
        train, dev = load_squad(paths["train"]), load_squad(paths["dev"])
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise MbertError(f"SQuAD data not found: {path}", hint="pass a SQuAD v1.1/v2.0 JSON file with --data")
        examples = load_squad(path)
        dev_path = path.with_name(path.name.replace("train", "dev"))
        if dev_path != path and dev_path.is_file():
            train, dev = examples, load_squad(dev_path)
        else:
            cut = max(1, int(len(examples) * 0.9))
            train, dev = examples[:cut], examples[cut:]
    if limit:
        train, dev = train[:limit], dev[:limit]
    if not train or not dev:
        raise MbertError(f"the SQuAD data {spec} has no training or no evaluation questions",
                         hint="use a file with more questions")
    return train, dev


def squad_windows(cfg, examples):
    """The model's input windows for `examples` (seq len, stride and query length of `cfg`)."""
    ft = cfg.finetune
    return squad_features(examples, task_tokenizer(cfg), cfg.data.seq_len, ft.doc_stride, ft.max_query_length)
