"""Figures (matplotlib only; nothing in pysoc imports this package except output writers
that are asked for figures)."""
