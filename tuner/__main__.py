"""``python -m tuner COMMAND ...``: the same as the ``tuner`` console script."""

from tuner._cli import main

if __name__ == "__main__":
    main()
