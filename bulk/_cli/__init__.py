"""Step 7, the command line: the commands, their flags and help screens (``bulk.cli`` is the
entry point).
"""

__all__: list[str] = []
