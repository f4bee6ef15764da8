"""Step 4, talking to the server: the client, pacing, retries, the breaker, the paged
listings of whole teams."""

__all__: list[str] = []
