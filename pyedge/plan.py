"""Offline memory planning: every activation and scratch buffer gets an arena offset."""
from __future__ import annotations

from dataclasses import dataclass

from .blob import ALIGN, align


@dataclass
class Buffer:
    size: int
    first: int  # first step it is live
    last: int   # last step it is live (inclusive)
    offset: int = -1


def plan_arena(buffers: list[Buffer]) -> int:
    """Greedy by size (largest first), each placed at the lowest aligned offset that does not
    overlap a placed buffer whose lifetime intersects. Sets `.offset`; returns the arena size."""
    placed: list[Buffer] = []
    total = 0
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].size, buffers[i].first, i))
    for i in order:
        b = buffers[i]
        size = align(max(b.size, 1), ALIGN)
        live = sorted((p for p in placed if p.first <= b.last and b.first <= p.last),
                      key=lambda p: p.offset)
        off = 0
        for p in live:
            if off + size <= p.offset:
                break
            off = max(off, align(p.offset + max(p.size, 1), ALIGN))
        b.offset = off
        placed.append(b)
        total = max(total, off + size)
    return align(total, ALIGN)
