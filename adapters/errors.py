"""Refusals the commands and queries raise for the officer to read."""
from __future__ import annotations


class CommandRefused(Exception):
    """A command the ledger refuses as a whole (message for the officer)."""
