"""Result folders of runs: the atomic store (store.py), charts, reports and comparisons."""
