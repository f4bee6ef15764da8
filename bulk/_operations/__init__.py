"""Step 6, the operations: create, plan, apply, delete (and prune), status, export and wait,
each deciding what to do and running it.
"""

__all__: list[str] = []
