"""``python -m stratum``: see ``stratum.cli.main``."""
import sys

from stratum.session import handoff

handoff.command_line(sys.argv[1:])  # a running server takes a script's run (never returns then)
from stratum.cli.main import main  # noqa: E402

main()
