"""``python -m stratum``: see ``stratum.cli.main``."""
from stratum.cli.main import main

main()
