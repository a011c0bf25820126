"""Uniform draws of a numpy PCG64 generator taken in blocks: the same floats, cheaper per draw.

Mode choice draws one uniform float per trip (``rng.random()``); called one by one, numpy's
``Generator.random`` costs about a microsecond in the event loop, several per cent of a day's
run. :class:`UniformBlocks` hands out the same floats from blocks of raw 64-bit outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: numpy's PCG64 ``next_double``: a float in [0, 1) from the top 53 bits of one 64-bit output
_TWO_TO_MINUS_53 = 1.0 / 9007199254740992.0


class UniformBlocks:
    """A numpy ``Generator`` whose argument-free ``random()`` draws come from blocks.

    ``random()`` returns, in order, exactly the floats that ``generator.random()`` would return
    call by call: with a PCG64 bit generator numpy makes each from one 64-bit output as
    ``(output >> 11) * 2**-53``, and ``bit_generator.random_raw(n)`` gives the next ``n`` outputs.
    Anything else asked of the stream (``random`` with arguments, any other attribute) first
    puts the generator where call-by-call draws would have left it (:meth:`sync`), then goes to
    the generator. Call :meth:`sync` when done drawing (the engine does after the run).

    Use :func:`uniform_blocks` to wrap a generator: it returns the generator itself unless its bit
    generator is a PCG64 (the one of :class:`mobisim.randomness.RandomStreams`).
    """

    __slots__ = ("_bits", "_block", "_state", "_taken", "_values", "generator")

    def __init__(self, generator: np.random.Generator, block: int = 1024):
        self.generator = generator
        self._bits = generator.bit_generator
        self._block = int(block)
        self._values: list[float] = []  # the next draws, the next one last
        self._taken = 0  # outputs taken from the generator for the current block
        self._state: dict | None = None  # bit-generator state before the current block

    def random(self, *args: Any, **kwargs: Any) -> Any:
        """The next uniform float in [0, 1), as ``generator.random()``; with arguments, its answer."""
        if args or kwargs:
            self.sync()
            return self.generator.random(*args, **kwargs)
        values = self._values
        if not values:
            self._refill()
        return values.pop()

    def _refill(self) -> None:
        # no float left in hand: the generator stands where call-by-call draws would
        self._state = self._bits.state
        raw = self._bits.random_raw(self._block)
        self._values.extend(((raw[::-1] >> 11) * _TWO_TO_MINUS_53).tolist())
        self._taken = self._block

    def sync(self) -> None:
        """Put the generator where call-by-call draws would be: its state before the block, then
        as many outputs taken as floats handed out (the unused rest is dropped)."""
        if self._state is None:
            return
        if self._values:  # back to the block's start, then past the floats handed out
            used = self._taken - len(self._values)
            self._bits.state = self._state
            if used:
                self._bits.random_raw(used)
            self._values.clear()
        self._state, self._taken = None, 0

    def __getattr__(self, name: str) -> Any:
        self.sync()
        return getattr(self.generator, name)


def uniform_blocks(generator: np.random.Generator) -> UniformBlocks | np.random.Generator:
    """``generator`` wrapped in :class:`UniformBlocks` if it draws with PCG64, else itself."""
    if type(generator.bit_generator) is np.random.PCG64:
        return UniformBlocks(generator)
    return generator
