"""The ``ledger`` subcommands that do not work on the ``--db`` ledger the
other commands open: ``keygen`` prints a key, ``demo`` runs a district on
its own store (adapters/demo.py, through the same commands and queries)."""
from __future__ import annotations

import argparse


def run_keygen(args: argparse.Namespace) -> None:
    import os
    import sys

    if not args.signing:
        from eventsourcing.cryptography import AESCipher

        print(AESCipher.create_key(32))
        print("Set it before the store's first command (cipher_key_file in ledger.toml naming a file only the "
              "office can read, or LEDGER_CIPHER_KEY), and keep a copy apart from the database and its backups "
              "(a sealed envelope, the office's safe): with it, the events, snapshots and the views' names, "
              "citizen ids and bank accounts are encrypted, and people's aggregate ids are keyed. Lost, none of "
              "them can be read again, not even from a backup; what stays in clear (amounts, months, statuses, "
              "communes, agents) tells no one who was paid.", file=sys.stderr)
        return

    from .checkpoints import new_signing_key

    pem, public = new_signing_key()
    if args.out:
        # Readable by its owner only: whoever holds it can sign checkpoints.
        descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        where = f"the private key is in {args.out}; name it with signing_key_file in ledger.toml"
    else:
        sys.stdout.write(pem.decode())
        where = "the private key is above: keep it in a file only the office can read, named by signing_key_file"
    print(f"{where}.\npublic key (Ed25519, hex): {public}\n"
          "Keep the public key apart from the database and this machine (the auditor's file, the signed "
          "monthly report): a checkpoint is only as good as the key the auditor checks it with.",
          file=sys.stderr)


def run_demo_command(args: argparse.Namespace) -> None:
    from .demo import run_demo  # synthetic data: loaded only for the demo

    run_demo(args)
