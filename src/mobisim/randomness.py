"""Seeded random streams, one per component.

Each component (the population generator, a service, mode choice, ...) asks for its own
``numpy.random.Generator`` by a stable name. The stream depends only on the scenario seed and
that name, so adding a service never changes the draws of another component.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> list[int]:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


class RandomStreams:
    """Factory of independent, reproducible random generators keyed by component name.

    Parameters
    ----------
    seed : int
        The scenario seed (non-negative).
    """

    def __init__(self, seed: int):
        if seed < 0:
            raise ValueError(f"seed must be >= 0 (got {seed})")
        self.seed = int(seed)
        self._cache: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """The generator for component ``name`` (the same object on every call)."""
        gen = self._cache.get(name)
        if gen is None:
            seq = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._cache[name] = gen
        return gen

    def fresh(self, name: str) -> np.random.Generator:
        """A new generator for ``name`` starting at the beginning of its stream."""
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
        return np.random.Generator(np.random.PCG64(seq))


def derive_seed(base_seed: int, *labels: object) -> int:
    """A reproducible child seed (0 <= seed < 2**31) from a base seed and labels, e.g. replications."""
    text = ":".join([str(base_seed), *map(str, labels)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def member(seed: int, label: str, key: int, share: float) -> bool:
    """Whether ``key`` (a person id) belongs to the ``share`` drawn for ``label`` under ``seed``.

    A hash of (seed, label, key) as a uniform number in [0, 1) below ``share``: the same answer
    in the engine and, from the saved tables, in the KPIs; independent of every random stream.
    """
    text = f"{seed}:{label}:{key}"
    draw = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") / 2.0**64
    return draw < share
