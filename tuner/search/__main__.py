"""``python -m tuner.search``: not built yet.

The search driver is the next piece of work (the search issue). Until it lands this command
says so and exits with status 1 instead of pretending to search.
"""

import sys

if __name__ == "__main__":
    print(
        "python -m tuner.search is not built yet: the dataset tools are "
        "(try 'python -m tuner.data inspect DIR'); the search lands with the search issue.",
        file=sys.stderr,
    )
    sys.exit(1)
