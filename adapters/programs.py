"""The ``ledger`` subcommands that do not work on the ``--db`` ledger the
other commands open: ``keygen`` prints a key, ``demo`` runs a district on
its own store (adapters/demo.py, through the same commands and queries)."""
from __future__ import annotations

import argparse


def run_keygen(args: argparse.Namespace) -> None:
    from eventsourcing.cryptography import AESCipher

    print(AESCipher.create_key(32))


def run_demo_command(args: argparse.Namespace) -> None:
    from .demo import run_demo  # synthetic data: loaded only for the demo

    run_demo(args)
