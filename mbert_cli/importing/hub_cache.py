"""Model ids (`org/name`) resolved from the local Hugging Face cache: never from the network.

`huggingface_hub` finds the cache the way every Hugging Face tool does (`HF_HUB_CACHE`, else
`HF_HOME/hub`, else `~/.cache/huggingface/hub`) and its revision (`refs/main`); with
`local_files_only` it never opens a connection, so a model that is not there fails at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from mbert_cli.errors import MbertError

# `org/name` as the Hub spells ids; a path that exists on disk always wins over an id.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def looks_like_hub_id(spec: str) -> bool:
    """True for `org/name` that is not an existing file or folder."""
    return bool(_HUB_ID.match(spec)) and not Path(spec).exists()


def cache_location(cache_dir: str | Path | None = None) -> Path:
    """Where the lookup reads: the given folder, else huggingface_hub's own default."""
    if cache_dir is not None:
        return Path(cache_dir)
    from huggingface_hub import constants  # noqa: PLC0415 - reads HF_HOME / HF_HUB_CACHE when first imported

    return Path(constants.HF_HUB_CACHE)


def resolve(model_id: str, cache_dir: str | Path | None = None) -> Path:
    """The snapshot folder of `model_id` in the local cache (config.json, model.safetensors, vocab.txt)."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415
    from huggingface_hub.errors import LocalEntryNotFoundError  # noqa: PLC0415

    where = cache_location(cache_dir)
    try:
        folder = Path(snapshot_download(model_id, local_files_only=True, cache_dir=cache_dir))
    except LocalEntryNotFoundError:
        raise MbertError(f"{model_id} is not in the local Hugging Face cache ({where})",
                         hint=f"on a machine with network run `hf download {model_id}` and copy its cache here "
                              "(or set HF_HOME / HF_HUB_CACHE to it), or pass the model's folder") from None
    if not (folder / "model.safetensors").is_file():
        raise MbertError(f"{model_id} in the Hugging Face cache ({folder}) has no model.safetensors",
                         hint="mbert reads safetensors weights: download them too (`hf download "
                              f"{model_id} model.safetensors config.json vocab.txt`)")
    return folder
