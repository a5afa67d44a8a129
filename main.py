"""``python main.py [PATH]`` opens the RadVoice viewer (same as the ``radvoice`` command)."""

import sys

from radvoice.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
