"""The store: reuse an artifact whose seal holds, compute a missing one under its lock, grow a pool that is
asked for more (see flames.store)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from flames.context import RetryPolicy
from flames.files import append_jsonl, write_json_atomic
from flames.locks import file_lock
from flames.seal import differences, list_files, seal_files
from flames.store.artifact import (GROW, MARKER, Artifact, Output, _attempts, _data_size, _seal, input_changed, input_record,
                                   package_versions, sealed_digest, stage_key)
from flames.store.failures import Failures
from flames.store.pool import covers, pool_record
from flames.store.writer import folder_stats

log = logging.getLogger(__name__)


class Store:
    """Content-addressed stage outputs under one root folder."""

    def __init__(self, root: str | Path, lock_timeout: float | None = None, retry: RetryPolicy | None = None):
        self.root = Path(root)
        self.lock_timeout = lock_timeout  # seconds to wait for another job computing an artifact; None: no limit
        self.retry = retry or RetryPolicy()  # failed rows a complete pool still has to retry make it not cover

    def artifact(self, stage: str, config: Any, inputs: dict[str, Artifact]) -> Artifact:
        key = stage_key(stage, config, {k: a.key for k, a in inputs.items()})
        return Artifact(stage, key, self.root / stage / key)

    def run(
        self,
        stage: str,
        config: Any,
        inputs: dict[str, Artifact],
        compute: Callable[[Path], dict],
        records_in: int | None = None,
        ask: dict[str, int] | None = None,
    ) -> tuple[Artifact, bool]:
        """Return (artifact, reused). `compute(folder)` does the work and returns stage metrics.

        `ask`: the artifact is a pool and this run asks it for these sizes (each a limit: more covers less);
        a complete pool that does not cover them grows (`compute` runs on a copy that holds what it has).
        """
        art = self.artifact(stage, config, inputs)
        if art.complete and not self.problems(art, inputs) and self.covers(art, ask, inputs):
            return art, True
        with file_lock(art.path.parent / f"{art.key}.lock", f"{stage}/{art.key}", timeout=self.lock_timeout):
            self._finish_growth(art)  # a growth that a killed job sealed but did not move in
            if art.complete:  # finished by another process while we waited, or found wrong just now
                problems = self.problems(art, inputs)
                if not problems:
                    if self.covers(art, ask, inputs):
                        return art, True
                    self._grow(art, config, inputs, compute, records_in, ask)
                    return art, False
                self.move_aside(art, problems)
            self._compute(art, art.path, config, inputs, compute, records_in, ask)
        return art, False

    def covers(self, art: Artifact, ask: dict[str, int] | None, inputs: dict[str, Artifact]) -> bool:
        """Whether a complete artifact holds what `ask` asks for (always, for an artifact that is not a pool):
        an ask it served was as large in every size, and its view was whole or its inputs have not grown since."""
        if ask is None:
            return True
        if Failures.read(art.path).to_retry(self.retry):  # failed rows to retry: resumed like a growth
            return False
        seal = _seal(art)
        if seal and "files" not in seal:  # sealed by flames < 0.4: reused as it is, as before
            return True
        try:
            served = art.manifest().get("served", [])
        except (OSError, ValueError):
            return False
        now = {name: _data_size(a) for name, a in inputs.items()}
        return any(covers(s["ask"], ask) and (s["full"] or s["inputs"] == now) for s in served)

    def _compute(self, art: Artifact, folder: Path, config: Any, inputs: dict[str, Artifact],
                 compute: Callable[[Path], dict], records_in: int | None, ask: dict[str, int] | None,
                 before: dict | None = None) -> None:
        """Run `compute` in `folder` (the artifact's, or a growth's copy) and seal it; `before`: the grown manifest."""
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        earlier = _attempts(folder)
        consumed = {name: input_record(a) for name, a in inputs.items()}  # what the inputs hold as we read them
        result = compute(folder)
        out = result if isinstance(result, Output) else Output(result)  # a plain dict: metrics, not a whole view
        metrics, full = out.metrics, out.full
        writer_stats = folder_stats(folder)
        if records_in is None and "view_size" in metrics:  # a pool stage that read a view of its input
            records_in = metrics["view_size"]
        if records_in is None and inputs:
            records_in = sum(a.manifest().get("records_out", 0) for a in inputs.values())
        manifest = {
            "stage": art.stage,
            "key": art.key,
            "config": config,
            "inputs": {k: {"stage": a.stage, "key": a.key} for k, a in inputs.items()},
            "records_in": records_in,
            **writer_stats,
            "metrics": metrics,
            "wall_time_s": round(time.time() - t0 + sum(a["seconds"] for a in earlier), 3),
            "attempts": len(earlier) + 1,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": package_versions(),
        }
        if ask is not None:
            manifest.update(pool_record(before, ask, full, consumed, writer_stats["records_out"], manifest))
        append_jsonl(folder / "attempts.jsonl", [{"seconds": round(time.time() - t0, 3), "done": True}], None)
        (folder / ".attempt").unlink(missing_ok=True)
        write_json_atomic(folder / "manifest.json", manifest)
        seal = {"key": art.key, "finished_at": manifest["created_at"], "files": seal_files(folder, {MARKER}),
                "inputs": consumed}
        if ask is not None:
            seal["origin"] = manifest["origin"]
        write_json_atomic(folder / MARKER, seal)

    def _grow(self, art: Artifact, config: Any, inputs: dict[str, Artifact], compute: Callable[[Path], dict],
              records_in: int | None, ask: dict[str, int]) -> None:
        """Extend a complete pool: compute on a copy (the sealed pool stays readable, and a kill leaves it
        whole: the next run resumes the copy), then move the copy's files in, the marker last."""
        staging, source = self._staging(art), sealed_digest(art) or ""
        from_file = staging.with_name(f"{art.key}.from")  # the pool's digest the copy was taken from
        if staging.exists() and (not from_file.exists() or from_file.read_text() != source):
            self._set_aside(staging, "a growth copy of an earlier content")  # the pool changed since
        if not staging.exists():
            copy = staging.with_name(f"{art.key}.copy")  # renamed when whole: a half copy is never resumed
            if copy.exists():
                shutil.rmtree(copy)
            shutil.copytree(art.path, copy, ignore=lambda d, names: [MARKER] if Path(d) == art.path else [])
            from_file.write_text(source)
            copy.rename(staging)
        before = art.manifest()
        log.info("%s/%s: growing (%s asked; it holds %d records)", art.stage, art.key, ask, before["records_out"])
        self._compute(art, staging, config, inputs, compute, records_in, ask, before=before)
        self._finish_growth(art)

    def _staging(self, art: Artifact) -> Path:
        return self.root / art.stage / GROW / art.key

    def _finish_growth(self, art: Artifact) -> None:
        """Move a sealed growth copy's files into the pool, the marker last (again after a kill: idempotent)."""
        staging = self._staging(art)
        if not (staging / MARKER).exists():
            return
        sealed = json.loads((staging / MARKER).read_text())["files"]
        for rel in sealed:
            if (staging / rel).exists():  # not moved yet
                (art.path / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, art.path / rel)
        os.replace(staging / MARKER, art.path / MARKER)
        for rel in set(list_files(art.path, {MARKER})) - set(sealed):  # left by the old content, not sealed now
            (art.path / rel).unlink()
        shutil.rmtree(staging)
        staging.with_name(f"{art.key}.from").unlink(missing_ok=True)
        log.info("%s/%s: grown to %d records", art.stage, art.key, art.manifest()["records_out"])

    def _set_aside(self, folder: Path, what: str) -> None:
        bad = self.root / folder.parent.parent.name / ".bad" / f"{folder.name}-grow-{time.strftime('%Y%m%d-%H%M%S')}"
        bad.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(bad)
        log.warning("%s: %s, moved aside to %s", folder, what, bad)

    def problems(self, art: Artifact, inputs: dict[str, Artifact]) -> list[str]:
        """Why a complete artifact must not be reused (empty: it may): its files or its inputs changed."""
        seal = json.loads((art.path / MARKER).read_text() or "{}")
        if "files" not in seal:  # sealed by flames < 0.4, which recorded nothing to check against
            return []
        found = differences(seal["files"], art.path, {MARKER})
        for name, a in inputs.items():
            why = input_changed(seal.get("inputs", {}).get(name), a)
            if why:
                found.append(f"its input {name} ({a.stage}/{a.key}) {why}")
        return found

    def move_aside(self, art: Artifact, problems: list[str]) -> Path:
        """Keep a bad artifact for inspection (never delete it) under <stage>/.bad/, out of the key's way."""
        bad = self.root / art.stage / ".bad" / f"{art.key}-{time.strftime('%Y%m%d-%H%M%S')}"
        bad.parent.mkdir(parents=True, exist_ok=True)
        art.path.rename(bad)
        log.warning("%s/%s cannot be reused: %s. Moved aside to %s; computing it again.", art.stage, art.key,
                    "; ".join(problems), bad)
        return bad
