"""The synthetic-model generator behind scripts/make-synthetic-models.py (its
docstring says what it makes and why, and which module holds what)."""
