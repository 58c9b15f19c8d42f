"""``python -m genaug`` runs the command line, exactly as the ``genaug`` command does."""

import sys

from genaug.cli import main

if __name__ == "__main__":
    sys.exit(main())
