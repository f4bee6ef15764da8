"""Step 3, running: one run of rows against the server: its options, the cost guard, the
workers, each row's attempts, the journal, stopping.
"""

__all__: list[str] = []
