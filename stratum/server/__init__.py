"""The stratum server (layer above ``session``, beside ``batch``): one warm interpreter per user
and environment that runs each handed-off script as a fork of itself (``server``), and the
submission API for harnesses that generate code (``client``). Keep this file free of imports."""
