# STDIN: 3
# STDIN: ridge
import sys

n = int(input("how many folds? "))
name = input("model name: ")
print()
print(f"folds={n} model={name!r}")
rest = sys.stdin.read()
print("remaining stdin:", repr(rest))
try:
    input("more? ")
except EOFError as e:
    print("EOF:", type(e).__name__)
