"""Step 1, reading: a manifest file or a DataFrame becomes records, with their lines."""

__all__: list[str] = []
