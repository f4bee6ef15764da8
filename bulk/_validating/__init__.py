"""Step 2, validating: records become rows with their exact bodies (pure, no I/O), parked on
disk for sending; and the one comparison of a row with a live app.
"""

__all__: list[str] = []
