"""UniformBlocks: the mode-choice stream's floats taken in blocks are the call-by-call floats."""

from __future__ import annotations

import numpy as np
import pytest

from mobisim.engine.draws import UniformBlocks, uniform_blocks
from mobisim.randomness import RandomStreams


@pytest.mark.parametrize("seed", [0, 7, 42])
def test_blocks_give_the_call_by_call_draws_and_state(seed):
    plain = RandomStreams(seed).get("mode_choice")
    blocks = uniform_blocks(RandomStreams(seed).get("mode_choice"))
    assert isinstance(blocks, UniformBlocks)
    picks = np.random.default_rng(seed).integers(0, 20, size=5000)
    for pick in picks.tolist():  # mostly random(), now and then other draws in between
        if pick == 0:
            assert (
                plain.integers(0, 100, size=3).tolist() == blocks.integers(0, 100, size=3).tolist()
            )
        elif pick == 1:
            assert plain.random(2).tolist() == blocks.random(2).tolist()
        elif pick == 2:  # a 32-bit draw leaves half an output buffered in the bit generator
            assert plain.integers(0, 2**31, dtype=np.int32) == blocks.integers(
                0, 2**31, dtype=np.int32
            )
        else:
            assert plain.random() == blocks.random()
    blocks.sync()
    assert plain.bit_generator.state == blocks.generator.bit_generator.state
    assert plain.random() == blocks.random()


def test_other_bit_generators_are_left_alone():
    generator = np.random.Generator(np.random.MT19937(1))
    assert uniform_blocks(generator) is generator
