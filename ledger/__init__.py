"""The domain and write side of the allowance ledger.

Nothing here imports a database driver, a file format or a command-line library:
adapters/ wires those in from the outside.
"""
