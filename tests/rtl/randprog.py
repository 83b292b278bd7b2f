"""Seeded random *valid* nux programs with correct, race-free dependency tokens.

A program starts by loading every on-chip row it may touch (so nothing reads unwritten memory), then emits
random LOAD / STORE / GEMM / REQUANT / VECTOR / POOL / NOP / SYNC instructions over small random shapes, then
END. Race freedom: the generator tracks, per on-chip row, its last writer and the readers since, each as
(queue, sequence number). When an instruction in queue Q conflicts with an instruction of another queue P that Q
has not yet waited for, it first emits a token chain P -> Q (a push on P's side, by the last P instruction when
it can carry the flag, else by a NOP; through the compute queue when P and Q are load and store), whose pop is
carried by the instruction itself. Every push is popped by the very next pop on its channel, so counts stay at 0
or 1 and every ordering the program relies on is explicit, as docs/isa.md section 3 requires. What one queue
has waited for is inherited transitively (queues complete in order).

DRAM layout inside the arena: [program][input data, read-only][output area, written by STOREs only], so DRAM
never carries a dependency between queues.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from nux.isa import Instr, Mem, NpuConfig, Opcode, PoolOp, Queue, VectorOp

Q_L, Q_C, Q_S = Queue.LOAD, Queue.COMPUTE, Queue.STORE
#: pushing flag (on the producer) and popping flag (on the consumer) for each adjacent channel
_CHANNEL_FLAGS = {
    (Q_L, Q_C): ("push_next", "pop_prev"),
    (Q_C, Q_L): ("push_prev", "pop_next"),
    (Q_C, Q_S): ("push_next", "pop_prev"),
    (Q_S, Q_C): ("push_prev", "pop_next"),
}
_QUEUE_OF = {Opcode.LOAD: Q_L, Opcode.STORE: Q_S, Opcode.GEMM: Q_C, Opcode.REQUANT: Q_C, Opcode.VECTOR: Q_C,
             Opcode.POOL: Q_C}


@dataclass
class Layout:
    """Where a random program lives in DRAM (all arena offsets) and how much of SP/ACC it uses."""

    max_instrs: int = 64
    input_bytes: int = 4096
    output_bytes: int = 4096
    dump_bytes: int = 4096
    sp_used: int = 64
    acc_used: int = 32

    @property
    def input_offset(self) -> int:
        return 32 * self.max_instrs

    @property
    def output_offset(self) -> int:
        return self.input_offset + self.input_bytes

    @property
    def dump_offset(self) -> int:
        return self.output_offset + self.output_bytes

    @property
    def arena_size(self) -> int:
        return self.dump_offset + self.dump_bytes


@dataclass
class _Pending:
    """An instruction being built: mutable values until the program is assembled."""

    opcode: Opcode
    values: dict[str, int]
    queue: Queue | None

    def instr(self) -> Instr:
        return Instr(self.opcode, **self.values)


@dataclass
class _Tracker:
    """Per-row last writer / readers, and what each queue has waited for in every other queue."""

    seq: dict[Queue, int] = field(default_factory=lambda: dict.fromkeys(Queue, 0))
    synced: dict[tuple[Queue, Queue], int] = field(default_factory=lambda: {(p, q): 0 for p in Queue for q in Queue})
    writer: dict[tuple[Mem, int], tuple[Queue, int]] = field(default_factory=dict)
    readers: dict[tuple[Mem, int], dict[Queue, int]] = field(default_factory=dict)

    def needs(self, q: Queue, reads: set, writes: set) -> dict[Queue, int]:
        """For each other queue, the latest of its instructions that `q` must wait for."""
        need: dict[Queue, int] = {}

        def want(p: Queue, s: int) -> None:
            if p != q and self.synced[(p, q)] < s:
                need[p] = max(need.get(p, 0), s)

        for row in reads | writes:
            if row in self.writer:
                want(*self.writer[row])
        for row in writes:
            for p, s in self.readers.get(row, {}).items():
                want(p, s)
        return need

    def record(self, q: Queue, reads: set, writes: set) -> None:
        self.seq[q] += 1
        s = self.seq[q]
        for row in reads:
            self.readers.setdefault(row, {})[q] = s
        for row in writes:
            self.writer[row] = (q, s)
            self.readers[row] = {}

    def waited(self, p: Queue, q: Queue) -> None:
        """`q` has now waited for everything `p` issued so far (and, transitively, what `p` waited for)."""
        for x in Queue:
            if x != q:
                self.synced[(x, q)] = max(self.synced[(x, q)], self.synced[(x, p)] if x != p else self.seq[p])


class RandomProgram:
    """Builds one random valid program; `instrs` is the result, `layout` where its data lives."""

    #: instruction kinds a program may draw from (`kinds` selects a subset, e.g. one class at a time)
    KINDS = ("load", "store", "gemm", "requant", "vector", "pool", "nop", "sync")

    def __init__(self, config: NpuConfig, seed: int, layout: Layout | None = None, length: int = 24,
                 kinds: tuple[str, ...] = KINDS):
        unknown = set(kinds) - set(self.KINDS)
        if unknown:
            raise ValueError(f"unknown instruction kinds {sorted(unknown)}; known: {self.KINDS}")
        self.config = config
        self.rng = random.Random(seed)
        self.layout = layout or Layout()
        self.prog: list[_Pending] = []
        self.t = _Tracker()
        self.tile = False
        self._build(length, kinds)

    # ------------------------------------------------------------------ emission with tokens

    def _last_of(self, q: Queue) -> _Pending | None:
        for p in reversed(self.prog):
            if p.queue == q:
                return p
        return None

    def _push_from(self, p: Queue, q: Queue) -> None:
        """Make queue p push a token toward adjacent queue q after everything it issued so far."""
        push_flag, _ = _CHANNEL_FLAGS[(p, q)]
        last = self._last_of(p)
        if last is not None and last is self.prog[-1] and not last.values.get(push_flag) and self.rng.random() < 0.5:
            last.values[push_flag] = 1  # the last instruction (also the last in program order) carries it
        else:
            self._emit(Opcode.NOP, {"queue": int(p), push_flag: 1}, set(), set(), check=False)

    def _sync(self, p: Queue, q: Queue, pops: dict[str, int]) -> None:
        """Order queue q after queue p; the consumer-side pop flag goes into `pops` (for q's next instruction)."""
        if {p, q} == {Q_L, Q_S}:  # no direct channel: relay through compute with a NOP
            self._push_from(p, Q_C)
            _, pop_flag = _CHANNEL_FLAGS[(p, Q_C)]
            push_flag, _ = _CHANNEL_FLAGS[(Q_C, q)]
            self._emit(Opcode.NOP, {"queue": int(Q_C), pop_flag: 1}, set(), set(), check=False, waits_on=[p])
            self.prog[-1].values[push_flag] = 1
            p = Q_C
        else:
            self._push_from(p, q)
        _, pop_flag = _CHANNEL_FLAGS[(p, q)]
        pops[pop_flag] = 1
        self.t.waited(p, q)

    def _emit(self, opcode: Opcode, values: dict, reads: set, writes: set, check: bool = True,
              waits_on: list[Queue] | None = None) -> None:
        q = Queue(values["queue"]) if opcode is Opcode.NOP else _QUEUE_OF.get(opcode)
        pops: dict[str, int] = {}
        if check and q is not None:
            need = self.t.needs(q, reads, writes)
            far = {Q_L: Q_S, Q_S: Q_L}.get(q)
            if far in need:  # the relay through compute also orders everything compute issued so far
                self._sync(far, q, pops)
                need.pop(far)
                need.pop(Q_C, None)
            for p in sorted(need):
                self._sync(p, q, pops)
        for p in waits_on or []:
            self.t.waited(p, q)
        values = {**values, **pops}
        self.prog.append(_Pending(opcode, values, q))
        if q is not None:
            self.t.record(q, reads, writes)

    # ------------------------------------------------------------------ random pieces

    def _rows(self, mem: Mem, rows) -> set:
        return {(mem, int(r)) for r in rows}

    def _walk(self, base: int, *steps: tuple[int, int]) -> list[int]:
        rows = [base]
        for count, stride in steps:
            rows = [r + i * stride for r in rows for i in range(count)]
        return rows

    def _span_base(self, span: int, used: int) -> int:
        return self.rng.randrange(0, used - span + 1)

    def _init(self) -> None:
        lay, dim = self.layout, self.config.dim
        self._emit(Opcode.LOAD, {"dst": Mem.SP, "dram_offset": lay.input_offset, "x_size": lay.sp_used,
                                 "x_stride": dim}, set(), self._rows(Mem.SP, range(lay.sp_used)))
        self._emit(Opcode.LOAD, {"dst": Mem.ACC, "dram_offset": lay.input_offset + 8, "x_size": lay.acc_used,
                                 "x_stride": 4 * dim}, set(), self._rows(Mem.ACC, range(lay.acc_used)))
        self._emit(Opcode.LOAD, {"dst": Mem.LUT, "dram_offset": lay.input_offset + 3,
                                 "x_size": self.config.lut_rows, "x_stride": dim}, set(),
                   self._rows(Mem.LUT, range(self.config.lut_rows)))

    def _load(self) -> None:
        rng, lay, dim = self.rng, self.layout, self.config.dim
        dst = rng.choice([Mem.SP, Mem.SP, Mem.ACC])
        esize = 4 if dst is Mem.ACC else 1
        xs, ys, zs = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
        pads = [rng.choice([0, 0, 1, 2]) for _ in range(4)]
        rows = zs * (ys + pads[2] + pads[3]) * (xs + pads[0] + pads[1])
        used = lay.sp_used if dst is Mem.SP else lay.acc_used
        if rows > used:
            pads = [0, 0, 0, 0]
            rows = xs * ys * zs
        strides = [rng.randint(0, 3 * dim * esize) for _ in range(3)]
        row_elems = rng.randint(0, dim)
        span = (xs - 1) * strides[0] + (ys - 1) * strides[1] + (zs - 1) * strides[2] + (row_elems or dim) * esize
        offset = lay.input_offset + rng.randrange(0, lay.input_bytes - span)
        dst_row = self._span_base(rows, used)
        self._emit(Opcode.LOAD, {
            "dst": dst, "pad_value": rng.randrange(256), "row_elems": row_elems, "dram_offset": offset,
            "dst_row": dst_row, "x_size": xs, "x_stride": strides[0], "y_size": ys, "y_stride": strides[1],
            "z_size": zs, "z_stride": strides[2], "x_pad_before": pads[0], "x_pad_after": pads[1],
            "y_pad_before": pads[2], "y_pad_after": pads[3],
        }, set(), self._rows(dst, range(dst_row, dst_row + rows)))

    def _store(self) -> None:
        rng, lay, dim = self.rng, self.layout, self.config.dim
        src = rng.choice([Mem.SP, Mem.ACC])
        esize = 4 if src is Mem.ACC else 1
        xs, ys, zs = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
        strides = [rng.randint(0, 3 * dim * esize) for _ in range(3)]
        row_elems = rng.randint(0, dim)
        span = (xs - 1) * strides[0] + (ys - 1) * strides[1] + (zs - 1) * strides[2] + (row_elems or dim) * esize
        offset = lay.output_offset + rng.randrange(0, lay.output_bytes - span)
        used = lay.sp_used if src is Mem.SP else lay.acc_used
        rows = xs * ys * zs
        src_row = self._span_base(rows, used)
        self._emit(Opcode.STORE, {
            "src": src, "row_elems": row_elems, "dram_offset": offset, "src_row": src_row, "x_size": xs,
            "x_stride": strides[0], "y_size": ys, "y_stride": strides[1], "z_size": zs, "z_stride": strides[2],
        }, self._rows(src, range(src_row, src_row + rows)), set())

    def _strided(self, count_x: int, count_y: int, used: int, extra: tuple = ()) -> tuple[int, int, int, list]:
        """A random (base, xstride, ystride) whose walk stays below `used`; returns the rows too."""
        rng = self.rng
        for _ in range(50):
            xstr, ystr = rng.randint(0, 3), rng.randint(0, 6)
            rows = self._walk(0, (count_y, ystr), (count_x, xstr), *extra)
            if max(rows) < used:
                base = rng.randrange(0, used - max(rows))
                return base, xstr, ystr, [base + r for r in rows]
        rows = self._walk(0, (count_y, 0), (count_x, 0), *extra)
        base = rng.randrange(0, used - max(rows))
        return base, 0, 0, [base + r for r in rows]

    def _out_rows(self, n: int, avoid: set) -> int | None:
        """An SP output base for n rows that does not overlap the instruction's own inputs."""
        for _ in range(50):
            base = self._span_base(n, self.layout.sp_used)
            if not avoid & set(range(base, base + n)):
                return base
        return None

    def _gemm(self) -> None:
        rng, lay, dim = self.rng, self.layout, self.config.dim
        preload = 1 if not self.tile or rng.random() < 0.4 else 0
        xs, ys = rng.randint(1, 6), rng.randint(1, 3)
        a_base, axs, ays, a_rows = self._strided(xs, ys, lay.sp_used)
        w_row = self._span_base(dim, lay.sp_used)
        acc_base = self._span_base(xs * ys, lay.acc_used)
        accumulate = rng.randint(0, 1)
        acc_rows = self._rows(Mem.ACC, range(acc_base, acc_base + xs * ys))
        reads = self._rows(Mem.SP, a_rows) | (self._rows(Mem.SP, range(w_row, w_row + dim)) if preload else set())
        self._emit(Opcode.GEMM, {
            "accumulate": accumulate, "preload": preload, "a_signed": rng.randint(0, 1),
            "w_signed": rng.randint(0, 1), "a_zp": rng.randrange(256), "w_zp": rng.randrange(256),
            "w_row": w_row, "acc_base": acc_base, "a_base": a_base, "x_size": xs, "y_size": ys,
            "a_xstride": axs, "a_ystride": ays,
        }, reads | (acc_rows if accumulate else set()), acc_rows)
        self.tile = True

    def _requant_common(self) -> dict:
        rng = self.rng
        signed = rng.randint(0, 1)
        lo, hi = sorted(rng.randrange(256) for _ in range(2))
        if signed:
            lo, hi = sorted([lo, hi], key=lambda b: b - 256 if b >= 128 else b)
        return {"out_signed": signed, "out_zp": rng.randrange(256), "clamp_lo": lo, "clamp_hi": hi}

    def _requant(self) -> None:
        rng, lay = self.rng, self.layout
        n = rng.randint(1, 8)
        acc_base = self._span_base(n, lay.acc_used)
        param_row = self._span_base(2, lay.acc_used)
        sp_base = self._span_base(n, lay.sp_used)
        reads = self._rows(Mem.ACC, list(range(acc_base, acc_base + n)) + [param_row, param_row + 1])
        self._emit(Opcode.REQUANT, {**self._requant_common(), "param_row": param_row, "acc_base": acc_base,
                                    "sp_base": sp_base, "n_rows": n},
                   reads, self._rows(Mem.SP, range(sp_base, sp_base + n)))

    def _vector(self) -> None:
        rng, lay = self.rng, self.layout
        vop = rng.choice(list(VectorOp))
        xs, ys = rng.randint(1, 4), rng.randint(1, 3)
        a_base, axs, ays, a_rows = self._strided(xs, ys, lay.sp_used)
        b_base, bxs, bys, b_rows = self._strided(xs, ys, lay.sp_used)
        nparams = {VectorOp.ADD: 6, VectorOp.LUT: 0}.get(vop, 2)
        param_row = self._span_base(max(nparams, 1), lay.acc_used)
        uses_b = vop is not VectorOp.LUT
        ins = set(a_rows) | (set(b_rows) if uses_b else set())
        out = self._out_rows(xs * ys, ins)
        if out is None:
            return
        reads = self._rows(Mem.SP, ins) | self._rows(Mem.ACC, range(param_row, param_row + nparams))
        if vop is VectorOp.LUT:
            reads |= self._rows(Mem.LUT, range(self.config.lut_rows))
        common = self._requant_common()
        self._emit(Opcode.VECTOR, {
            "vop": vop, "a_signed": rng.randint(0, 1), "b_signed": rng.randint(0, 1),
            "out_signed": common["out_signed"], "add_shift": rng.choice([0, 4, 20]), "a_zp": rng.randrange(256),
            "b_zp": rng.randrange(256), "out_zp": common["out_zp"], "clamp_lo": common["clamp_lo"],
            "clamp_hi": common["clamp_hi"], "param_row": param_row, "a_base": a_base, "b_base": b_base,
            "x_size": xs, "y_size": ys, "a_xstride": axs, "a_ystride": ays, "b_xstride": bxs, "b_ystride": bys,
            "out_base": out,
        }, reads, self._rows(Mem.SP, range(out, out + xs * ys)))

    def _pool(self) -> None:
        rng, lay = self.rng, self.layout
        xs, ys = rng.randint(1, 3), rng.randint(1, 2)
        wx, wy = rng.randint(1, 3), rng.randint(1, 2)
        wxs, wys = rng.randint(0, 2), rng.randint(0, 4)
        a_base, axs, ays, a_rows = self._strided(xs, ys, lay.sp_used, extra=((wy, wys), (wx, wxs)))
        param_row = self._span_base(2, lay.acc_used)
        out = self._out_rows(xs * ys, set(a_rows))
        if out is None:
            return
        common = self._requant_common()
        self._emit(Opcode.POOL, {
            "pop": rng.choice(list(PoolOp)), "a_signed": rng.randint(0, 1), "out_signed": common["out_signed"],
            "a_zp": rng.randrange(256), "out_zp": common["out_zp"], "clamp_lo": common["clamp_lo"],
            "clamp_hi": common["clamp_hi"], "param_row": param_row, "a_base": a_base, "out_base": out,
            "x_size": xs, "y_size": ys, "a_xstride": axs, "a_ystride": ays, "win_x": wx, "win_y": wy,
            "win_xstride": wxs, "win_ystride": wys,
        }, self._rows(Mem.SP, a_rows) | self._rows(Mem.ACC, [param_row, param_row + 1]),
            self._rows(Mem.SP, range(out, out + xs * ys)))

    def _sync_all(self) -> None:
        self.prog.append(_Pending(Opcode.SYNC, {}, None))
        for p in Queue:
            for q in Queue:
                self.t.synced[(p, q)] = self.t.seq[p]

    def _nop(self) -> None:
        self._emit(Opcode.NOP, {"queue": int(self.rng.choice(list(Queue)))}, set(), set())

    def _dump(self) -> None:
        """STORE every used SP and ACC row to the dump area, so the final on-chip state is compared too."""
        lay, dim = self.layout, self.config.dim
        self._emit(Opcode.STORE, {"src": Mem.SP, "dram_offset": lay.dump_offset, "x_size": lay.sp_used,
                                  "x_stride": dim}, self._rows(Mem.SP, range(lay.sp_used)), set())
        self._emit(Opcode.STORE, {"src": Mem.ACC, "dram_offset": lay.dump_offset + dim * lay.sp_used,
                                  "x_size": lay.acc_used, "x_stride": 4 * dim},
                   self._rows(Mem.ACC, range(lay.acc_used)), set())

    def _build(self, length: int, kinds: tuple[str, ...]) -> None:
        self._init()
        weights = {"load": 2, "store": 2, "gemm": 3, "requant": 2, "vector": 2, "pool": 2, "nop": 1, "sync": 1}
        makers = {"load": self._load, "store": self._store, "gemm": self._gemm, "requant": self._requant,
                  "vector": self._vector, "pool": self._pool, "nop": self._nop, "sync": self._sync_all}
        choices = [k for k in kinds for _ in range(weights[k])]
        budget = self.layout.max_instrs - 12  # room for token NOPs, the dump and END
        while len(self.prog) < min(length, budget):
            makers[self.rng.choice(choices)]()
        self._dump()
        self.prog.append(_Pending(Opcode.END, {}, None))
        self._check_pairing()

    def _check_pairing(self) -> None:
        """Every pop must take the one token its channel holds (the generator's invariant; a race otherwise)."""
        counts = dict.fromkeys(_CHANNEL_FLAGS, 0)
        for i, p in enumerate(self.prog):
            if p.queue is None:
                continue
            for (src, dst), (_, pop_flag) in _CHANNEL_FLAGS.items():
                if dst == p.queue and p.values.get(pop_flag):
                    if counts[(src, dst)] != 1:
                        raise AssertionError(f"instruction {i}: pop on {src.name}->{dst.name} finds "
                                             f"{counts[(src, dst)]} tokens")
                    counts[(src, dst)] = 0
            for (src, dst), (push_flag, _) in _CHANNEL_FLAGS.items():
                if src == p.queue and p.values.get(push_flag):
                    counts[(src, dst)] += 1

    @property
    def instrs(self) -> list[Instr]:
        return [p.instr() for p in self.prog]
