"""The chaos suite (issue 14): scenarios that kill, partition and starve the service, each
ending with the ledger (``ledger.py``); ``make chaos`` runs it alone and writes
docs/reliability.md from var/chaos/*.json (``report.py``)."""
