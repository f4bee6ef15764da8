"""Step 4, talking to the server: the client, pacing, retries, the breaker, the listings."""

__all__: list[str] = []
