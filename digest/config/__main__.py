"""``python -m digest.config [--write README.md]``: the README's settings table."""

from digest.config.docs import main

if __name__ == "__main__":
    raise SystemExit(main())
