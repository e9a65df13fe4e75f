"""``python -m stratum``: see ``stratum.cli``."""
from stratum.cli import main

main()
