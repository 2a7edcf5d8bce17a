"""Column names of the log contract and of extracted batches, shared by extract (which adds them) and the profiles
(which read them)."""

from __future__ import annotations

from typing import Literal

ColumnType = Literal["numerical", "categorical"]
"""How a column is compared: numerical (an ordered distribution) or categorical (counts per category)."""

LABEL = "__label__"
"""Name of the ground-truth column in extracted batches: the joined label, else the label logged inline."""
