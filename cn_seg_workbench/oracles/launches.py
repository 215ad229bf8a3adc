"""Counting what one CN layer dispatches: ATen ops and Triton launches.

The measure of the CUDA backend's cost at small sizes, where every kernel
launch and every op through the dispatcher costs about as much as the data
it touches. :class:`LaunchCounter` counts, while it is active, every ATen op
that is not a view (views launch nothing) and every Triton kernel launch;
cn_seg's own custom ops count as what they contain. It works on any device:
on the CPU it counts the ops a CUDA run would dispatch, with Triton kernels
run by the interpreter (whose own bookkeeping ops are not counted).
"""
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

from torch._library.custom_ops import _maybe_get_opdef
from torch.utils._python_dispatch import (TorchDispatchMode,
                                          _disable_current_modes)


class LaunchCounter(TorchDispatchMode):
    """``with LaunchCounter() as counter: ...``; then ``counter.total``.

    Attributes:
        ops (Counter): ATen op name -> calls.
        kernels (Counter): Triton kernel name -> launches.
    """

    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()
        self.kernels: Counter = Counter()

    @property
    def total(self) -> int:
        """int: ATen ops plus Triton launches."""
        return sum(self.ops.values()) + sum(self.kernels.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.namespace == 'cn_seg':  # count what the custom op holds
            opdef = _maybe_get_opdef(func)
            with self:
                return opdef._init_fn(*args, **kwargs)
        if not func.is_view:
            self.ops[str(func.overloadpacket)] += 1
        return func(*args, **kwargs)

    def __enter__(self):
        self._patches = _count_triton_launches(self.kernels)
        self._patches.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        result = super().__exit__(*exc)
        self._patches.__exit__(*exc)
        return result


@contextmanager
def _count_triton_launches(kernels: Counter) -> Iterator[None]:
    """Count Triton launches (compiled or interpreted) into ``kernels``."""
    try:
        from triton.runtime.interpreter import InterpretedFunction
        from triton.runtime.jit import JITFunction
    except ImportError:  # without triton there is nothing to count
        yield
        return
    originals = {cls: cls.run for cls in (JITFunction, InterpretedFunction)}

    def counting(original):

        def run(self, *args, **kwargs):
            kernels[getattr(self.fn, '__name__', str(self.fn))] += 1
            with _disable_current_modes():  # the interpreter's own copies
                return original(self, *args, **kwargs)

        return run

    for cls, original in originals.items():
        cls.run = counting(original)
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.run = original
