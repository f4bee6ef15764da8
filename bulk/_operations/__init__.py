"""Step 6, the operations besides create: plan, apply and delete, each deciding what to do and
running it.
"""

__all__: list[str] = []
