"""The web application for payment officers, approvers and auditors: pages
rendered on the server over the same commands and queries as the ``ledger``
command (adapters/commands.py, adapters/queries.py); it holds no business rule."""
