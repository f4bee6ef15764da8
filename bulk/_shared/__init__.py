"""What every step shares: the exceptions, the settings from the environment, the table of
file formats, durable writing, app ids, JSON on the hot path, the log lines.
"""

__all__: list[str] = []
