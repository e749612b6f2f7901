"""The chunked process pool behind dedup and decontamination."""

from __future__ import annotations

import pytest

from flames.qc import _parallel as P


def _sum_with_offset(items, scale):
    return [x * scale + P.shared() for x in items]


@pytest.mark.parametrize("workers", [1, 2])
def test_map_chunks_keeps_order_and_shares_an_object(workers):
    items = list(range(1000))
    out = []
    for start, part in P.map_chunks(_sum_with_offset, items, workers=workers, args=(2,), shared=7, max_chunk=90):
        assert part[0] == items[start] * 2 + 7
        out.extend(part)
    assert out == [x * 2 + 7 for x in items]
    assert P.shared() is None  # the inline run restores the previous shared object


def test_chunk_bounds_cover_everything_once():
    for n, w in [(0, 2), (1, 2), (10, 1), (1001, 2), (200_000, 4)]:
        bounds = P.chunk_bounds(n, w)
        assert sum(e - s for s, e in bounds) == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert all(e - s <= 50_000 for s, e in bounds)


def test_resolve_workers(monkeypatch):
    assert P.resolve_workers(3, 10) == 3
    assert P.resolve_workers(None, 10) == 1  # small inputs stay in one process
    monkeypatch.setattr(P, "available_cpus", lambda: 4)
    monkeypatch.setattr(P.os, "getloadavg", lambda: (1.0, 0.0, 0.0))  # only this process
    assert P.resolve_workers(None, 10**6) == 4
    monkeypatch.setattr(P.os, "getloadavg", lambda: (2.2, 0.0, 0.0))  # others use ~1.2 CPUs
    assert P.resolve_workers(None, 10**6) == 3
    monkeypatch.setattr(P.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert P.resolve_workers(None, 10**6) == 1
    with pytest.raises(ValueError):
        P.resolve_workers(0, 10)
