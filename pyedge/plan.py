"""Offline memory planning: every activation and scratch buffer gets an arena offset.

Two layers (docs/memory.md describes both):

* `plan_arena(buffers)` places buffers with known lifetimes (first..last step) in one arena so
  that no two buffers that are live at the same step overlap. Small problems are solved
  exactly (a branch-and-bound search over placement orders); larger ones try several orderings
  with first-fit and best-fit placement, then a bounded, deterministic local search. The result
  is never larger than the original size-ordered greedy (`plan_greedy`), which is one of the
  candidates, and it stops early once it reaches the lower bound (the largest sum of sizes
  live at one step).
* `plan_memory(...)` turns a lowered program into buffers: tensor lifetimes over the execution
  order (subgraph calls included), storage classes, in-place aliasing where an op allows it
  (`ALIAS_OPS`, `INPLACE_OPS`, and PAD's input inside its output: `OFFSET_INPLACE_OPS`), the
  persistent state region, and each op's scratch.

`check_plan(blob)` verifies a packed blob's plan statically, with the rules the C core's
run-time plan check (PYEDGE_CHECK_PLAN, native/src/runtime.c) applies.
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .blob import (ALIGN, ELEMENT_SIZE, OP, OP_FIELDS, SEC_OPS, SEC_PARAMS, STORE_ARENA, STORE_CONST,
                   STORE_NONE, STORE_STATE, align, read_blob)
from .errors import UnsupportedOpError
from .graph import INT4, CORE_TYPES, RESOURCE

# In-place facts of each pe op, from the C op table (native/ops.def's inplace column, read with
# pe_op_inplace): the loader's plan check reads the same column.
#   ALIAS_OPS: the output is the input's bytes unchanged and shares its buffer; the kernel skips
#     the copy when the two data pointers are equal (RESHAPE; SQUEEZE and EXPAND_DIMS lower to it).
#   INPLACE_OPS: op -> inputs whose buffer the output may take over: every variant's kernel reads
#     element i of that input before writing element i of the output. The input must have the
#     output's element count and element size (so a broadcast input never qualifies) and must
#     die at this op.
#   OFFSET_INPLACE_OPS: input 0 may lie inside the output, `pad_inplace_shift` bytes past its
#     start (PAD: runs moved last to first, then the padding filled). Same conditions otherwise.
def _inplace_table() -> tuple[frozenset, dict[str, tuple[int, ...]], frozenset]:
    from ._native import lib, op_names

    alias, inplace, offset = set(), {}, set()
    for code, name in op_names().items():
        bits = int(lib.pe_op_inplace(code))
        if bits & lib.PE_INPLACE_ALIAS:
            alias.add(name)
        if bits & lib.PE_INPLACE_OFFSET:
            offset.add(name)
        ins = tuple(k for k in range(30) if bits >> k & 1)
        if ins:
            inplace[name] = ins
    return frozenset(alias), inplace, frozenset(offset)


ALIAS_OPS, INPLACE_OPS, OFFSET_INPLACE_OPS = _inplace_table()

# pe ops that run other subgraphs (their nested ops are checked one by one)
CALL_OPS = frozenset({"CALL_ONCE"})

_PAD_BEFORE = struct.Struct("<6i")  # pe_pad_params.before (native/kernels/shape.h)


def pad_lead_bytes(out_shape: Sequence[int], before: Sequence[int], elem_size: int) -> int:
    """Byte position in PAD's output of input element 0: the padding that precedes it."""
    lead, stride = 0, 1
    for d in range(len(out_shape) - 1, -1, -1):
        lead += int(before[d]) * stride
        stride *= int(out_shape[d])
    return lead * elem_size


def pad_inplace_shift(out_shape: Sequence[int], before: Sequence[int], elem_size: int) -> int:
    """Where PAD's input may lie inside its output (bytes past its start): the lead rounded
    down to ALIGN, so the input's offset stays aligned. The kernel is correct for any place
    from 0 to the lead; the C core accepts this one only (pe_pad_inplace_shift)."""
    return pad_lead_bytes(out_shape, before, elem_size) // ALIGN * ALIGN


def _pad_before(params: bytes, rank: int) -> list[int]:
    return list(_PAD_BEFORE.unpack_from(params, 0)[:rank])


# ---- placing buffers with lifetimes ------------------------------------------------------------

@dataclass
class Buffer:
    """One block of the activation region, live from step `first` to step `last` (inclusive)."""

    size: int
    first: int
    last: int
    offset: int = -1
    name: str = ""


@dataclass
class ArenaResult:
    """What plan_arena found: the size, a lower bound on any plan's size, and how."""

    size: int
    lower_bound: int
    optimal: bool
    strategy: str


def _slot(b: Buffer) -> int:
    """Bytes a buffer occupies in the arena: its size rounded up to the alignment."""
    return align(b.size, ALIGN) if b.size > 0 else 0


def _overlaps(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def _validate(buffers: Sequence[Buffer]) -> None:
    for i, b in enumerate(buffers):
        if b.size < 0 or b.first < 0 or b.last < b.first:
            raise ValueError(f"buffer {i} ({b.name or 'unnamed'}): size {b.size}, lifetime "
                             f"{b.first}..{b.last} is not a valid buffer")


def lower_bound(buffers: Sequence[Buffer]) -> int:
    """The largest total (aligned) size of buffers live at one step: no plan is smaller."""
    events: list[tuple[int, int]] = []
    for b in buffers:
        s = _slot(b)
        if s:
            events.append((b.first, s))
            events.append((b.last + 1, -s))
    events.sort(key=lambda e: (e[0], e[1]))
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def _conflicts(buffers: Sequence[Buffer]) -> list[list[int]]:
    """For each buffer, the indices of the other buffers whose lifetimes intersect its own."""
    n = len(buffers)
    out: list[list[int]] = [[] for _ in range(n)]
    by_first = sorted(range(n), key=lambda i: buffers[i].first)
    active: list[int] = []
    for i in by_first:
        b = buffers[i]
        active = [j for j in active if buffers[j].last >= b.first]
        for j in active:
            out[i].append(j)
            out[j].append(i)
        active.append(i)
    return out


def _place(buffers: Sequence[Buffer], conflicts: list[list[int]], order: Iterable[int],
           best_fit: bool = False) -> tuple[int, list[int]]:
    """Place buffers in `order`, each at the lowest (first-fit) or tightest (best-fit) aligned
    gap left by the already placed buffers it conflicts with. Returns (size, offsets)."""
    n = len(buffers)
    offs = [-1] * n
    total = 0
    for i in order:
        size = _slot(buffers[i])
        if size == 0:
            offs[i] = 0
            continue
        taken = sorted((offs[j], offs[j] + _slot(buffers[j])) for j in conflicts[i] if offs[j] >= 0)
        off, pos, best_gap = 0, -1, -1
        for lo, hi in taken:
            if lo - off >= size:
                if not best_fit:
                    pos = off
                    break
                if best_gap < 0 or lo - off < best_gap:
                    best_gap, pos = lo - off, off
            off = max(off, hi)
        if pos < 0:
            pos = off
        offs[i] = pos
        total = max(total, pos + size)
    return total, offs


def plan_greedy(buffers: list[Buffer]) -> int:
    """The baseline: largest first, each at the lowest offset clear of the buffers it is live
    with. Sets `.offset`; returns the arena size."""
    _validate(buffers)
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].size, buffers[i].first, i))
    size, offs = _place(buffers, _conflicts(buffers), order)
    for b, o in zip(buffers, offs):
        b.offset = o
    return align(size, ALIGN)


_ORDERINGS: dict[str, Callable[[Buffer, int, int], tuple]] = {
    # key(buffer, index, conflict_weight)
    "size": lambda b, i, w: (-_slot(b), b.first, i),
    "lifetime": lambda b, i, w: (-(b.last - b.first), -_slot(b), i),
    "area": lambda b, i, w: (-_slot(b) * (b.last - b.first + 1), i),
    "first": lambda b, i, w: (b.first, -_slot(b), i),
    "last": lambda b, i, w: (-b.last, -_slot(b), i),
    "conflict": lambda b, i, w: (-w, -_slot(b), i),
}


def _exact(buffers: Sequence[Buffer], conflicts: list[list[int]], bound: int, best: int,
           budget: int) -> tuple[int, list[int] | None, bool]:
    """Branch and bound over placement orders with first-fit. First-fit in the order of an
    optimal plan's offsets never places a buffer above its optimal offset, so searching every
    order is exact. Returns (size, order or None if not better than `best`, search complete)."""
    n = len(buffers)
    slots = [_slot(b) for b in buffers]
    sig = [(slots[i], buffers[i].first, buffers[i].last) for i in range(n)]
    best_order: list[int] | None = None
    nodes = 0
    offs = [-1] * n

    def dfs(order: list[int], height: int) -> bool:
        nonlocal best, best_order, nodes
        if len(order) == n:
            if height < best:
                best, best_order = height, list(order)
            return best <= bound
        tried: set[tuple[int, int, int]] = set()
        for i in range(n):
            if offs[i] >= 0 or sig[i] in tried:
                continue  # placed, or identical to a buffer already tried at this depth
            tried.add(sig[i])
            nodes += 1
            if nodes > budget:
                return True
            taken = sorted((offs[j], offs[j] + slots[j]) for j in conflicts[i] if offs[j] >= 0)
            off = 0
            for lo, hi in taken:
                if lo - off >= slots[i]:
                    break
                off = max(off, hi)
            h = max(height, off + slots[i])
            if h >= best:
                continue
            offs[i] = off
            order.append(i)
            stop = dfs(order, h)
            order.pop()
            offs[i] = -1
            if stop:
                return True
        return False

    dfs([], 0)
    return best, best_order, nodes <= budget


def plan_arena_result(buffers: list[Buffer], *, exact_limit: int = 10, exact_budget: int = 20000,
                      search_budget: int = 400_000, seed: int = 0) -> ArenaResult:
    """Place `buffers` (sets `.offset`) and report the arena size, the lower bound and whether
    the plan is proven optimal. Deterministic for given inputs."""
    _validate(buffers)
    n = len(buffers)
    conflicts = _conflicts(buffers)
    bound = align(lower_bound(buffers), ALIGN)
    weight = [_slot(b) + sum(_slot(buffers[j]) for j in conflicts[i]) for i, b in enumerate(buffers)]
    best, best_offs, best_order, how = -1, [0] * n, list(range(n)), ""
    for name, key in _ORDERINGS.items():
        order = sorted(range(n), key=lambda i: key(buffers[i], i, weight[i]))
        for fit in (False, True):
            size, offs = _place(buffers, conflicts, order, best_fit=fit)
            if best < 0 or size < best:
                best, best_offs, best_order = size, offs, order
                how = f"{name} order, {'best' if fit else 'first'} fit"
            if best <= bound:
                break
        if best <= bound:
            break
    optimal = best <= bound
    if not optimal and 0 < n <= exact_limit:
        size, order, complete = _exact(buffers, conflicts, bound, best, exact_budget)
        if order is not None:
            best, best_order = size, order
            best_offs = _place(buffers, conflicts, order)[1]
            how = "exact search"
        optimal = complete or best <= bound
    if not optimal and n > 1:
        # local search: move one buffer to another place in the order, keep if not worse
        rng = random.Random(seed)
        work = sum(len(c) + 1 for c in conflicts)
        for _ in range(min(2000, search_budget // max(work, 1))):
            order = list(best_order)
            i, j = rng.randrange(n), rng.randrange(n)
            order.insert(j, order.pop(i))
            size, offs = _place(buffers, conflicts, order)
            if size <= best:
                if size < best:
                    how = "local search"
                best, best_offs, best_order = size, offs, order
                if best <= bound:
                    optimal = True
                    break
    for b, o in zip(buffers, best_offs):
        b.offset = o
    return ArenaResult(align(best, ALIGN), bound, optimal, how)


def plan_arena(buffers: list[Buffer]) -> int:
    """Place `buffers` in one arena (sets `.offset`); returns the arena size (a multiple of
    ALIGN). Buffers live at a common step never overlap; every offset is ALIGN-aligned."""
    return plan_arena_result(buffers).size


# ---- planning a lowered program ------------------------------------------------------------------

@dataclass
class MemoryPlan:
    """Where every tensor and scratch buffer of a packed program lives."""

    storage: dict[int, int]                  # tensor gidx -> STORE_*
    offsets: dict[int, int]                  # gidx -> offset in its region (arena or state)
    scratch: dict[int, tuple[int, int]]      # id(packed op) -> (offset, size)
    arena_size: int
    state_size: int
    lifetimes: dict[int, tuple[int, int]]    # arena gidx -> (first, last) step
    alias_of: dict[int, int] = field(default_factory=dict)  # gidx -> gidx whose buffer it shares
    result: ArenaResult | None = None


def _nbytes(t: Any) -> int:
    return t.size * ELEMENT_SIZE.get(t.type_code, 0)


def plan_memory(tensors: Sequence[Any], graph: Any, order: Sequence[Any], extra_state: set[int],
                preserve_all_tensors: bool = False, preserve_inputs: bool = True,
                strip_unread_constants: bool = False) -> MemoryPlan:
    """Storage class, lifetime and offset of every tensor of a lowered program.

    `order` is the execution timeline (pyedge.pack.PackedOp, subgraphs called by an op placed
    right after it); `extra_state` the packer-made persistent tensors. Subgraph 0's inputs live
    for the whole invoke (unless `preserve_inputs` is False) and its outputs from when they are
    written to the end; `preserve_all_tensors` keeps every subgraph-0 tensor for the whole
    invoke and turns in-place execution off. `strip_unread_constants` leaves out the data of
    constants that no op reads (a model's weights once the packer has repacked them): their
    records stay, without data."""
    steps = max(len(order), 1)
    last_step = steps - 1
    n_sg = len(graph.subgraphs)

    # -- subgraph calls: where each subgraph runs ------------------------------------------
    own_steps: dict[int, list[int]] = {s: [] for s in range(n_sg)}
    callers: dict[int, list[tuple[int, int]]] = {s: [] for s in range(n_sg)}
    for step, p in enumerate(order):
        own_steps[p.subgraph].append(step)
        if p.lowered.calls is not None:
            callers[p.lowered.calls].append((step, p.subgraph))

    def span_end(s: int, seen: frozenset = frozenset()) -> int:
        """Last step of subgraph s and everything it calls."""
        end = max(own_steps[s], default=-1)
        for step, p in ((st, order[st]) for st in own_steps[s]):
            c = p.lowered.calls
            if c is not None and c not in seen:
                end = max(end, span_end(c, seen | {s}))
        return end

    def run_sites(s: int, seen: frozenset = frozenset()) -> set[int]:
        """Steps of the call ops through which subgraph s runs (directly or not)."""
        out: set[int] = set()
        for step, parent in callers[s]:
            out.add(step)
            if parent not in seen and parent != s:
                out |= run_sites(parent, seen | {s})
        return out

    sites = {s: run_sites(s) for s in range(1, n_sg)}

    # -- uses and writers --------------------------------------------------------------------
    uses: dict[int, list[int]] = {}
    writers: dict[int, list[int]] = {}
    for step, p in enumerate(order):
        lw = p.lowered
        end = span_end(lw.calls) if lw.calls is not None else step
        for t in lw.inputs + lw.outputs:
            if t is not None:
                uses.setdefault(t.gidx, []).extend([step, max(step, end)])
        for t in lw.outputs:
            writers.setdefault(t.gidx, []).append(step)
    sg_io: dict[int, int] = {}  # gidx -> subgraph whose input/output it is
    sg0_in: set[int] = set()
    sg0_out: set[int] = set()
    for s, sg in enumerate(graph.subgraphs):
        for i in sg.inputs + sg.outputs:
            g = sg.tensors[i].gidx
            sg_io.setdefault(g, s)
        if s == 0:
            sg0_in = {sg.tensors[i].gidx for i in sg.inputs}
            sg0_out = {sg.tensors[i].gidx for i in sg.outputs}
        else:
            run = sorted(sites[s] | set(own_steps[s]))
            for i in sg.inputs + sg.outputs:
                g = sg.tensors[i].gidx
                if run:
                    uses.setdefault(g, []).extend([run[0], max(run[-1], span_end(s))])
                else:
                    uses.setdefault(g, [])

    # -- storage ------------------------------------------------------------------------------
    storage: dict[int, int] = {}
    offsets: dict[int, int] = {}
    state_off = 0
    for t in tensors:
        g = t.gidx
        if t.type_code == RESOURCE:
            st = STORE_NONE
        elif t.is_const:
            st = STORE_CONST
            if strip_unread_constants and g not in uses and g not in sg_io and not preserve_all_tensors:
                st = STORE_NONE
            elif t.type_code == INT4 and g not in uses:  # int4 weights live on in their packed layouts
                st = STORE_NONE
        elif t.is_variable or g in extra_state:
            st = STORE_STATE
        elif g in uses or g in sg0_in or g in sg0_out or (preserve_all_tensors and t.subgraph == 0):
            st = STORE_ARENA
        else:
            st = STORE_NONE
        if st != STORE_NONE and t.type_code not in CORE_TYPES:
            raise UnsupportedOpError(
                f"tensor {t.index} ({t.name!r}) in subgraph {t.subgraph} has type {t.type_name}, "
                "which pyedge does not support")
        storage[g] = st
        if st == STORE_STATE:  # persistent region: never shared, never planned over
            offsets[g] = state_off
            state_off = align(state_off + _nbytes(t))

    # -- lifetimes ----------------------------------------------------------------------------
    by_gidx = {t.gidx: t for t in tensors}
    life: dict[int, tuple[int, int]] = {}
    for t in tensors:
        g = t.gidx
        if storage[g] != STORE_ARENA:
            continue
        used = uses.get(g) or []
        first, last = (min(used), max(used)) if used else (0, last_step)
        if g in sg0_in:
            first = 0
            if preserve_inputs or not used:
                last = last_step
        if g in sg0_out:
            first = min(first, min(writers.get(g, [0])))
            last = last_step
        if t.subgraph > 0 and sites.get(t.subgraph):
            first = min(first, min(sites[t.subgraph]))
            last = max(last, max(sites[t.subgraph]))
        if preserve_all_tensors and t.subgraph == 0:
            first, last = 0, last_step
        life[g] = (first, min(last, last_step))

    # -- aliasing: groups of tensors sharing one buffer ------------------------------------
    def shareable(g: int, sub: int) -> bool:
        t = by_gidx[g]
        return (storage.get(g) == STORE_ARENA and t.subgraph == sub and
                (g not in sg_io or sg_io[g] == 0))

    def alias(offset_inplace: bool) -> tuple[dict[int, int], dict[int, list[int]], dict[int, int], int]:
        """Groups of tensors sharing a buffer: (root, members, byte position of each tensor in
        its group's buffer, number of OFFSET_INPLACE_OPS joins)."""
        root: dict[int, int] = {g: g for g in life}
        members: dict[int, list[int]] = {g: [g] for g in life}
        rel: dict[int, int] = {g: 0 for g in life}
        n_offset = 0

        def group(g: int) -> int:
            while root[g] != g:
                g = root[g]
            return g

        def join(x: int, y: int, shift: int = 0) -> None:
            """y (a group of its own) takes x's bytes, with x `shift` bytes past y's start."""
            rx = group(x)
            pos = rel[x] - shift
            if pos < 0:  # y starts below the buffer: move the buffer's members up
                for m in members[rx]:
                    rel[m] -= pos
                pos = 0
            rel[y] = pos
            root[y] = rx
            members[rx].extend(members.pop(y))

        for step, p in enumerate(order):
            lw = p.lowered
            if len(lw.outputs) != 1 or not lw.inputs or lw.calls is not None:
                continue
            y = lw.outputs[0]
            if not shareable(y.gidx, p.subgraph) or writers.get(y.gidx) != [step]:
                continue
            if group(y.gidx) != y.gidx or len(members[y.gidx]) != 1:
                continue
            if lw.op in ALIAS_OPS:
                x = lw.inputs[0]
                if (x is not None and shareable(x.gidx, p.subgraph) and _nbytes(x) == _nbytes(y)
                        and all(w < step for w in writers.get(x.gidx, []))):
                    join(x.gidx, y.gidx)
                continue
            if preserve_all_tensors:
                continue
            offset_op = lw.op in OFFSET_INPLACE_OPS
            if offset_op and offset_inplace:
                candidates: Iterable[int] = (0,)
                es = ELEMENT_SIZE.get(y.type_code, 0)
                shift = pad_inplace_shift(y.shape, _pad_before(lw.params, len(y.shape)), es)
            elif lw.op in INPLACE_OPS:
                candidates, shift = INPLACE_OPS[lw.op], 0
            else:
                continue
            for k in candidates:
                x = lw.inputs[k] if k < len(lw.inputs) else None
                if x is None or not shareable(x.gidx, p.subgraph):
                    continue
                if ELEMENT_SIZE.get(x.type_code) != ELEMENT_SIZE.get(y.type_code):
                    continue
                if offset_op:
                    if shift + _nbytes(x) > _nbytes(y):
                        continue  # the input must lie inside the output
                elif x.size != y.size:
                    continue
                if not all(w < step for w in writers.get(x.gidx, [])):
                    continue
                rx = group(x.gidx)
                grp = members[rx]
                if any(m in sg0_in or m in sg0_out for m in grp):
                    continue  # the caller reads these after invoke
                if max(life[m][1] for m in grp) != step:
                    continue  # some tensor of the buffer is still read later
                others = [t for j, t in enumerate(lw.inputs) if j != k and t is not None]
                if any(t.gidx != x.gidx and t.gidx in root and group(t.gidx) == rx for t in others):
                    continue  # another input reads this buffer at other positions
                join(x.gidx, y.gidx, shift)
                n_offset += 1 if offset_op else 0
                break
        for g in life:
            root[g] = group(g)
        return root, members, rel, n_offset

    # -- buffers --------------------------------------------------------------------------------
    def buffers_of(members: dict[int, list[int]], rel: dict[int, int]
                   ) -> tuple[list[Buffer], dict[int, Buffer], dict[int, Buffer]]:
        """One buffer per group (as large as its members' extent, live through all of their
        lifetimes) and per scratch: (all buffers, by group root, by id(packed op))."""
        buffers: list[Buffer] = []
        group_buf: dict[int, Buffer] = {}
        for r, ms in members.items():
            b = Buffer(max(rel[m] + _nbytes(by_gidx[m]) for m in ms), min(life[m][0] for m in ms),
                       max(life[m][1] for m in ms), name=by_gidx[r].name)
            group_buf[r] = b
            buffers.append(b)
        scratch_buf: dict[int, Buffer] = {}
        for step, p in enumerate(order):
            if p.lowered.scratch:
                end = span_end(p.lowered.calls) if p.lowered.calls is not None else step
                b = Buffer(p.lowered.scratch, step, max(step, end), name=f"scratch of op at step {step}")
                scratch_buf[id(p)] = b
                buffers.append(b)
        return buffers, group_buf, scratch_buf

    root, members, rel, n_offset = alias(True)
    buffers, group_buf, scratch_buf = buffers_of(members, rel)
    result = plan_arena_result(buffers)
    if n_offset:
        # A PAD's group holds the output's size through its input's lifetime too, which can
        # cost more at an earlier step than it saves at the PAD: plan without those joins as
        # well (unless no such plan can be smaller) and keep the smaller, so taking PAD in place
        # never makes a plan worse.
        root2, members2, rel2, _ = alias(False)
        buffers2, group_buf2, scratch_buf2 = buffers_of(members2, rel2)
        if align(lower_bound(buffers2), ALIGN) < result.size:
            result2 = plan_arena_result(buffers2)
            if result2.size < result.size:
                root, members, rel, result = root2, members2, rel2, result2
                group_buf, scratch_buf = group_buf2, scratch_buf2
    alias_of: dict[int, int] = {}
    for g in life:
        r = root[g]
        offsets[g] = group_buf[r].offset + rel[g]
        if r != g:
            alias_of[g] = r
    return MemoryPlan(storage, offsets, {k: (b.offset, b.size) for k, b in scratch_buf.items()},
                      result.size, state_off, life, alias_of, result)


# ---- checking a packed plan ------------------------------------------------------------------------

def check_plan(blob: bytes | bytearray | memoryview, inputs_survive: bool = True) -> list[str]:
    """Problems with a blob's memory plan (empty if none), by the rules of the core's run-time
    check: while op i runs, its outputs and scratch must not overlap any activation that was
    written before op i and is read after it (a subgraph's inputs count as written at its
    start, its outputs as read at its end), except a RESHAPE output sharing exactly its
    input's bytes; an output may share an input's bytes only exactly, and only for RESHAPE or
    an in-place op of INPLACE_OPS whose input dies there; PAD's input (OFFSET_INPLACE_OPS)
    may lie inside its output only at `pad_inplace_shift` bytes past its start. With
    `inputs_survive` (the default plan) subgraph 0's inputs also count as read at its end."""
    from . import _native

    info = read_blob(blob)
    names = _native.op_names()
    tensors = info.tensors
    problems: list[str] = []
    mv = memoryview(blob)
    ops_off, params_off = info.sections[SEC_OPS][0], info.sections[SEC_PARAMS][0]
    params_at = [f for f, _ in OP_FIELDS].index("params")

    def pad_shift(idx: int, op: dict) -> int:
        """Where op idx's (a PAD's) input may lie inside its output, in bytes."""
        at = OP.unpack_from(mv, ops_off + idx * OP.size)[params_at]
        out = tensors[op["outputs"][0]]
        before = _PAD_BEFORE.unpack_from(mv, params_off + at)
        return pad_inplace_shift(out["shape"], before, ELEMENT_SIZE.get(out["type_code"], 0))

    def rng(t: int) -> tuple[int, int] | None:
        r = tensors[t]
        if r["storage"] != STORE_ARENA or r["bytes"] == 0:
            return None
        return r["offset"], r["offset"] + r["bytes"]

    def hit(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return a[0] < b[1] and b[0] < a[1]

    for s, sg in enumerate(info.subgraphs):
        ops = info.ops[sg["first_op"]:sg["first_op"] + sg["n_ops"]]
        defined = set(sg["inputs"])
        for k, op in enumerate(ops):
            name = names.get(op["code"], str(op["code"]))
            idx = sg["first_op"] + k
            if name in CALL_OPS:
                defined.update(op["outputs"])
                continue
            later = set(sg["outputs"]) | (set(sg["inputs"]) if s == 0 and inputs_survive else set())
            for o in ops[k + 1:]:
                later.update(o["inputs"])
            outs = set(op["outputs"])
            writes = [(o, rng(o)) for o in op["outputs"] if rng(o) is not None]
            if op["scratch_size"]:
                writes.append((-1, (op["scratch"], op["scratch"] + op["scratch_size"])))
            for t in sorted((defined & later) - outs):
                tr = rng(t)
                if tr is None:
                    continue
                for o, w in writes:
                    if hit(tr, w) and not (name in ALIAS_OPS and o >= 0 and w == tr):
                        what = f"output tensor {o}" if o >= 0 else "scratch"
                        problems.append(f"op {idx} {name}: {what} at {w} overlaps tensor {t} at {tr}, "
                                        "which is still read later")
            for i in set(op["inputs"]) - outs:
                ir = rng(i) if i >= 0 else None
                if ir is None:
                    continue
                for o, w in writes:
                    if not hit(ir, w):
                        continue
                    exact = o >= 0 and w == ir
                    ok = exact and (name in ALIAS_OPS or (
                        name in INPLACE_OPS and i in [op["inputs"][j] for j in INPLACE_OPS[name]
                                                      if j < len(op["inputs"])]))
                    if name in OFFSET_INPLACE_OPS and o >= 0 and i == op["inputs"][0]:
                        ok = ir[0] == w[0] + pad_shift(idx, op) and ir[1] <= w[1]
                    if not ok:
                        what = f"output tensor {o}" if o >= 0 else "scratch"
                        problems.append(f"op {idx} {name}: {what} at {w} overlaps its input tensor "
                                        f"{i} at {ir}")
            defined.update(outs)
    return problems


def region_map(blob: bytes | bytearray | memoryview) -> list[tuple[int, int]]:
    """Byte ranges of the activation region that some tensor or scratch buffer uses, merged
    and sorted; everything else is never touched by a correct kernel."""
    info = read_blob(blob)
    spans = [(t["offset"], t["offset"] + t["bytes"]) for t in info.tensors
             if t["storage"] == STORE_ARENA and t["bytes"]]
    spans += [(o["scratch"], o["scratch"] + o["scratch_size"]) for o in info.ops if o["scratch_size"]]
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


__all__ = ["ALIAS_OPS", "INPLACE_OPS", "OFFSET_INPLACE_OPS", "ArenaResult", "Buffer", "MemoryPlan",
           "check_plan", "lower_bound", "pad_inplace_shift", "pad_lead_bytes", "plan_arena",
           "plan_arena_result", "plan_greedy", "plan_memory", "region_map"]
