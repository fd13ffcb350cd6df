"""The venue load benchmark's parts (``bench/bench_load.py`` runs them; see its docstring)."""
