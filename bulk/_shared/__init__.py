"""What every step shares: the exceptions, the settings from the environment, JSON on the hot
path, the log lines.
"""

__all__: list[str] = []
