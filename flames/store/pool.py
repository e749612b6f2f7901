"""Pools: which asks a pool has served covers a new one, and the pool's manifest entries."""

from __future__ import annotations

import uuid


def covers(big: dict[str, int], small: dict[str, int]) -> bool:
    """An ask `big` covers `small`: as large in every size `small` names (each size is a limit)."""
    return all(v <= big.get(k, -1) for k, v in small.items())


def pool_record(before: dict | None, ask: dict[str, int], full: bool, consumed: dict, records: int,
                manifest: dict) -> dict:
    """A pool's manifest entries: its origin, the asks it served (this one added), and its growths."""
    before = before or {}
    served = {"ask": ask, "full": full,
              "inputs": {name: r["data"]["size"] if isinstance(r, dict) else None for name, r in consumed.items()}}
    growths = before.get("growths", [])
    if before:
        growths = [*growths, {"records_before": before["records_out"], "records_after": records,
                              "ask": ask, "at": manifest["created_at"]}]
    return {"origin": before.get("origin") or uuid.uuid4().hex[:16], "asked": ask,
            "served": [*before.get("served", []), served], "growths": growths}
