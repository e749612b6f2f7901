"""Where the openai backend sends a request: one URL, or a study's server pool balanced on the client.

A pool is a folder (flames.servers): `pool.json` says what it serves and how long a task waits for a first
replica (`wait_s`); each replica, once its `/health` answers, writes `replicas/<job>.json` with its URL, and
removes it when it stops. Requests go round robin over the replicas registered and not seen failing; a
replica that refuses a connection is set aside for `cooldown_s` and the request goes to the next one, so a stage
goes on when a replica dies (vLLM's maintainers point to client-side balancing across `vllm serve` replicas,
vllm#13015). The folder is read again every `refresh_s` (every 2 s while fewer replicas are registered than the
pool runs), so replicas that start late (or are restarted) join.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


class NoReplica(RuntimeError):
    """No replica of the pool registered within the wait."""


class Replicas:
    def __init__(self, make_client: Callable[[str | None], Any], base_url: str | None = None,
                 pool: str | Path | None = None, refresh_s: float = 30.0, cooldown_s: float = 60.0):
        self.make_client, self.pool = make_client, Path(pool) if pool else None
        self.refresh_s, self.cooldown_s = refresh_s, cooldown_s
        self.lock = threading.Lock()
        self.clients: dict[str, Any] = {}  # url -> client
        self.down: dict[str, float] = {}  # url -> when it failed
        self.sent: Counter[str] = Counter()  # requests sent per url (the balance, logged at the end of a call)
        self.turn, self.read_at, self.expected = 0, 0.0, 1
        if self.pool is None:
            client = make_client(base_url)
            self.clients[str(client.base_url).rstrip("/")] = client
        else:
            self.wait_for_one()

    @property
    def url(self) -> str:
        return next(iter(self.clients)) if self.pool is None else str(self.pool)

    def registered(self) -> list[str]:
        """The URLs in the pool's folder now (a torn or half-written entry is skipped: it is rewritten whole)."""
        urls = []
        for entry in sorted((self.pool / "replicas").glob("*.json")):
            try:
                urls.append(json.loads(entry.read_text())["url"].rstrip("/"))
            except (OSError, ValueError, KeyError):
                continue
        return urls

    def refresh(self) -> None:
        urls = self.registered()
        with self.lock:
            for url in urls:
                if url not in self.clients:
                    self.clients[url] = self.make_client(url)
                    log.info("server pool %s: replica %s", self.pool.name, url)
            for url in [u for u in self.clients if u not in urls]:  # stopped: it removed its entry
                self.clients.pop(url).close()
            self.read_at = time.monotonic()

    def wait_for_one(self) -> None:
        try:
            pool = json.loads((self.pool / "pool.json").read_text())
            wait_s, self.expected = float(pool["wait_s"]), int(pool.get("replicas", 1))
        except (OSError, ValueError, KeyError) as e:
            raise NoReplica(f"server pool {self.pool}: no pool.json ({e}); a study writes it when it starts the pool")
        deadline = time.monotonic() + wait_s
        while True:
            self.refresh()
            if self.clients:
                return
            if time.monotonic() > deadline:
                raise NoReplica(f"server pool {self.pool}: no replica registered in {wait_s:.0f} s (their logs: "
                                f"{self.pool}/logs)")
            time.sleep(min(5.0, wait_s))

    def pick(self) -> tuple[str, Any]:
        """The next replica not seen failing (all failing: the one that failed longest ago)."""
        # while replicas are still starting (fewer registered than the pool runs), look for them every 2 s
        every = self.refresh_s if len(self.clients) >= self.expected else min(2.0, self.refresh_s)
        if self.pool is not None and time.monotonic() - self.read_at > every:
            self.refresh()
        while True:
            with self.lock:
                urls = list(self.clients)
                if urls:
                    now = time.monotonic()
                    live = [u for u in urls if now - self.down.get(u, -1e9) > self.cooldown_s] or \
                        sorted(urls, key=lambda u: self.down.get(u, 0.0))[:1]
                    url = live[self.turn % len(live)]
                    self.turn += 1
                    self.sent[url] += 1
                    return url, self.clients[url]
            self.wait_for_one()  # every replica stopped: one restarted may register again

    def failed(self, url: str) -> bool:
        """A replica refused or dropped a connection: set it aside; True if another one may take the retry."""
        with self.lock:
            self.down[url] = time.monotonic()
            others = len(self.clients) > 1
        if self.pool is not None:
            log.warning("server pool %s: replica %s failed; %s", self.pool.name, url,
                        "trying another" if others else "waiting for it")
        return others

    def balance(self) -> str:
        return ", ".join(f"{url} {n}" for url, n in sorted(self.sent.items()))

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
