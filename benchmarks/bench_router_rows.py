"""What one DRT row to a node costs on a large all-pairs matrix: the whole column (before
b49e5f3) against ``TimesRow`` read at the indexed nodes (now). Same process, same matrix.

    python benchmarks/bench_router_rows.py --nodes 21369 --cells 400 --rows 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mobisim.network.router import TimesRow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=21_369, help="matrix side (the 1 M town)")
    parser.add_argument("--cells", type=int, default=400, help="cells a quote indexes")
    parser.add_argument("--rows", type=int, default=200, help="rows timed")
    args = parser.parse_args()
    n = args.nodes
    matrix = np.random.default_rng(0).random((n, n), dtype=np.float32)
    rng = np.random.default_rng(1)
    columns = rng.integers(0, n, args.rows)
    picks = rng.integers(0, n, (args.rows, args.cells))
    start = time.perf_counter()
    whole = []
    for k, column in enumerate(columns):
        row = np.asarray(matrix[:, column], dtype=float)
        whole.append(np.where(np.isnan(row), np.inf, row)[picks[k]])
    mid = time.perf_counter()
    lazy = [TimesRow(matrix[:, c], matrix[:, c], None)[picks[k]] for k, c in enumerate(columns)]
    end = time.perf_counter()
    assert all(np.array_equal(a, b) for a, b in zip(whole, lazy, strict=True))
    print(f"whole column, NaN -> inf: {(mid - start) / args.rows * 1e3:.3f} ms per row")
    print(f"{args.cells} cells where indexed: {(end - mid) / args.rows * 1e3:.3f} ms per row")


if __name__ == "__main__":
    main()
