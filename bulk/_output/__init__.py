"""Step 5, what a run leaves: the results files, the report, the progress bar."""

__all__: list[str] = []
