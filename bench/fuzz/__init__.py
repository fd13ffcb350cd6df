"""The fuzz campaign's parts (``bench/fuzz_campaign.py`` runs them; see its docstring)."""
