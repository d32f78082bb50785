"""Benchmarks of the ledger, run as named stages of one command
(``scripts/bench``; see the README's "Benchmarks" and ``cli.py``).

The stages time what users run: the ``ledger`` command's own entry point
(``adapters.cli.main``) called in-process with ``--db URL``, and the
eventsourcing library's public API for the one sub-step the command does
not show on its own (the bulk append). Each stage of each store runs in a
process of its own, so its peak memory is its own."""
