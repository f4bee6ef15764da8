"""``python -m bulk``: the command line."""

import sys

if __name__ == "__main__":
    try:
        from .cli import main
    except KeyboardInterrupt:  # Ctrl-C while Python is still loading pandas and aiohttp
        sys.exit(130)
    sys.exit(main())
