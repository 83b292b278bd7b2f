"""A decoupled executor: runs a program the way the hardware may, to catch missing dependency tokens.

The golden Machine executes in program order, which hides races: a program that forgot a token still computes
the right answer there, but not on the RTL, whose load, compute and store queues run concurrently. This executor
dispatches instructions into the three queues and then interleaves the queues at random (one whole instruction
at a time), honouring only what the hardware honours: queue order, tokens (a pop waits for a token, a push
follows completion) and SYNC/END barriers. Run a program under several seeds; if results differ from the
in-order run, the program has a race. Use it on programs that already pass the Machine's dispatch checks.
"""

from __future__ import annotations

import collections
import random

from nux.golden.checks import CHANNELS, DEP_FLAGS, queue_of
from nux.golden.machine import INSTR_BYTES, Machine
from nux.golden.units import execute
from nux.isa import Instr, Opcode, Queue, decode


class _Queues:
    def __init__(self) -> None:
        self.pending: dict[Queue, collections.deque[tuple[int, Instr]]] = {q: collections.deque() for q in Queue}
        self.tokens = [0, 0, 0, 0]

    def channels(self, ins: Instr, prefix: str) -> list[int]:
        table = CHANNELS[queue_of(ins)]
        return [c for flag, c in zip(DEP_FLAGS, table, strict=True) if flag.startswith(prefix) and ins.values[flag]]

    def ready(self, queue: Queue) -> bool:
        if not self.pending[queue]:
            return False
        _, ins = self.pending[queue][0]
        return all(self.tokens[c] > 0 for c in self.channels(ins, "pop"))

    def empty(self) -> bool:
        return not any(self.pending.values())


def run_decoupled(machine: Machine, prog_base: int, prog_len: int, arena_base: int, seed: int,
                  queue_depth: int = 8) -> int:
    """Execute with a random legal interleaving of the three queues; return the number of instructions run.

    `queue_depth` bounds how far dispatch may run ahead of each queue (hardware FIFOs are finite).
    """
    rng = random.Random(seed)
    # Dispatch is eager (it gives the queues the most freedom); each seed favours some queues over others by
    # orders of magnitude, so that one queue can run far ahead of another (a uniform choice rarely does).
    weight = {queue: 10 ** rng.uniform(-3, 0) for queue in Queue}
    q = _Queues()
    pc = 0
    done = 0
    fetched: dict[int, Instr] = {}
    while True:
        if pc not in fetched:
            address = prog_base + INSTR_BYTES * pc
            fetched[pc] = decode(machine.dram[address : address + INSTR_BYTES].tobytes(), pc, machine.isa_minor)
        ins = fetched[pc]
        barrier = ins.opcode in (Opcode.SYNC, Opcode.END)
        target = None if barrier else queue_of(ins)
        can_dispatch = q.empty() if barrier else len(q.pending[target]) < queue_depth
        if can_dispatch:
            if ins.opcode is Opcode.END:
                return done + 1
            if barrier:
                done += 1
            else:
                q.pending[target].append((pc, ins))
            pc += 1
            if pc >= prog_len:
                raise RuntimeError("program has no END")
            continue
        ready = [queue for queue in Queue if q.ready(queue)]
        if not ready:
            raise RuntimeError(f"decoupled execution deadlocked at pc {pc}")
        choice = rng.choices(ready, weights=[weight[queue] for queue in ready])[0]
        ipc, head = q.pending[choice].popleft()
        for c in q.channels(head, "pop"):
            q.tokens[c] -= 1
        execute(machine, head, arena_base, ipc, None)
        done += 1
        for c in q.channels(head, "push"):
            q.tokens[c] += 1
