"""Step 3, running: one run of rows against the server: its options, the cost guard, the
workers, each row's attempts (and the rows parked in doubt), the journal and its locks,
stopping.
"""

__all__: list[str] = []
