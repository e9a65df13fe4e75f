"""Old name of :mod:`stratum.session.startup`, kept for a ``stratum.pth`` written by an older
install (``__import__("stratum._startup")``): importing it starts stratum the same way."""
import stratum.session.startup  # noqa: F401
