"""Where the config root is: a source checkout's top-level conf/, else the installed package flames.conf.

A checkout (editable install, or flames on PYTHONPATH) reads conf/ beside its flames/ package; a wheel or
`pip install .` ships the same files as flames.conf (pyproject's package-dir), found through importlib.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CHECKOUT_CONF = Path(__file__).resolve().parent.parent.parent / "conf"


def conf_dir() -> Path:
    if (CHECKOUT_CONF / "config.yaml").is_file():
        return CHECKOUT_CONF
    spec = importlib.util.find_spec("flames.conf")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("flames: no config root (conf/ beside the package, or flames.conf installed)")
    return Path(next(iter(spec.submodule_search_locations)))


CONF_DIR = conf_dir()
