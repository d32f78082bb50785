"""A province's ledger and the national database: what a province publishes
when it closes a month (published.py), the national side fed by PostgreSQL
logical replication (subscriptions.py) and its report (report.py)."""
