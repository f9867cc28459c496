"""Background jobs: the jobs table's runner (runner.py) and the list of every job handler (handlers.py)."""
