"""stratum: run unmodified pandas / numpy / scikit-learn scripts, trace them, reuse their work."""
__version__ = "0.1.0"
