# ARGS: --alpha notanumber
import argparse

parser = argparse.ArgumentParser(prog="train.py")
parser.add_argument("--alpha", type=float, required=True)
args = parser.parse_args()
print("not reached", args)
