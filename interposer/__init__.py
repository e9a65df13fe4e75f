"""The interposer: bytecode rewriting, the frame hook and the library patches stratum traces with."""
# From a source checkout without its built extension, ``import stratum`` puts the installed copy
# of both packages in place of the checkout's (stratum/__init__.py); importing it first keeps
# ``import interposer`` on the same copy when it comes first.
__import__("stratum")
