"""External datasets as rows: a JSONL file, a dataset folder (`save_to_disk`, or files `load_dataset` reads) or a
hub dataset id, and what a key records of one (a file's content, a hub id as given). Read by `mixture=external`
(flames.mix), by `agent=external` (flames.agents.external) and by `seeds=hf` (flames.seeds)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flames.config import ConfigError
from flames.jsonl import read_jsonl

LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


def read_external(dataset: str, split: str, key: str = "mixture", config: str | None = None) -> list[dict]:
    """Rows of a JSONL file, a dataset folder or a hub dataset (`datasets` is imported only for the last two); `key`:
    the config node that names it, for the errors (`<key>.dataset`, `<key>.split`); `config`: a hub config name."""
    path = Path(dataset).expanduser()
    if path.is_file():
        return list(read_jsonl(path))  # a malformed line: JSONLError naming file:line
    if not path.is_dir() and (dataset.startswith(("/", ".", "~")) or path.suffix in LOCAL_SUFFIXES):
        raise FileNotFoundError(f"{key}.dataset: {dataset} not found")
    import datasets

    if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
        return _saved_rows(datasets.load_from_disk(str(path)), split, dataset, key)  # load_dataset refuses these
    try:
        return list(datasets.load_dataset(str(path) if path.is_dir() else dataset, config, split=split))
    except ConnectionError as e:  # offline (HF_HUB_OFFLINE) and not in the local cache, or the hub out of reach
        raise ConfigError(f"{key}.dataset: cannot load {dataset!r}: not in the local Hugging Face cache and the hub "
                          f"is out of reach ({_first_line(e)})") from None
    except FileNotFoundError as e:  # an unknown id: the user's to fix
        raise FileNotFoundError(f"{key}.dataset: cannot load {dataset!r} ({_first_line(e)})") from None
    except ValueError as e:
        if str(e).startswith("Unknown split"):
            raise ConfigError(f"{key}.split: {_first_line(e)}") from None
        raise


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _saved_rows(saved, split: str, dataset: str, key: str) -> list[dict]:
    """A `save_to_disk` folder: one Dataset (split does not apply) or a DatasetDict (split picks one)."""
    if not hasattr(saved, "keys"):
        return list(saved)
    if split not in saved:
        raise ConfigError(f"{key}.split: {split!r} not in {dataset} (splits: {', '.join(saved)})")
    return list(saved[split])


def dataset_name(dataset: str) -> str:
    """The records' mixture_source: a file's stem, a folder's name, a hub id as given."""
    path = Path(dataset).expanduser()
    if path.is_file():
        return path.stem
    return path.resolve().name if path.is_dir() else dataset


def dataset_fingerprint(dataset: str, split: str, fields: dict) -> dict:
    """What the mix key records of an external dataset: a file's or folder's name and content (so an edit
    recomputes and a move does not); a hub id as given, with split and fields (its content is the hub's)."""
    path = Path(dataset).expanduser()
    mapping = dict(fields or {})
    if path.is_file():
        return {"name": path.stem, "content": _files_hash([path], path.parent), "fields": mapping}
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and not _hidden(f.relative_to(path)))
        return {"name": dataset_name(dataset), "content": _files_hash(files, path), "split": split, "fields": mapping}
    return {"hub": dataset, "split": split, "fields": mapping}


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)  # .git, caches: not the data


def _files_hash(files: list[Path], root: Path) -> str:
    """Content hash of files (and their names under root), read in blocks: a dataset can be gigabytes."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\x00")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]
