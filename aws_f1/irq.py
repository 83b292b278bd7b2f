"""`IrqPulser`: the NPU's level interrupt -> the shell's single-cycle request with acknowledge.

The shells (F1 and F2 alike) take `cl_sh_apppf_irq_req[n]` as a one-cycle pulse and answer with a one-cycle
`sh_cl_apppf_irq_ack[n]`; a new request on the same vector must wait for the ack. The NPU's `irq` is a level
(IRQ_STATUS & IRQ_ENABLE != 0). Every rising edge of the level becomes one request; an edge that comes while a
request is unacknowledged is remembered and sent after the ack, so none is lost. A host that finds the line still
high (it did not clear IRQ_STATUS) sees no new interrupt, which is why the driver reads IRQ_STATUS before it
sleeps on the event file.
"""


from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class IrqPulser(wiring.Component):
    irq: In(1)
    ack: In(1)
    req: Out(1)
    count: Out(32)  # requests sent since reset (CL_IRQ_COUNT)

    def elaborate(self, platform) -> Module:
        m = Module()
        prev = Signal()
        pending = Signal()  # an edge not yet requested
        waiting = Signal()  # a request not yet acknowledged
        m.d.sync += prev.eq(self.irq)
        rise = self.irq & ~prev
        send = (pending | rise) & ~waiting
        m.d.sync += self.req.eq(send)
        with m.If(send):
            m.d.sync += [waiting.eq(1), pending.eq(0), self.count.eq(self.count + 1)]
        with m.Elif(rise):
            m.d.sync += pending.eq(1)
        with m.If(self.ack):
            m.d.sync += waiting.eq(0)
        return m
