# An agent's script interrupted by its harness: the interpreter dies by SIGINT after the traceback
import numpy as np

x = np.arange(10)
print("partial result", x.sum(), flush=True)


def long_loop():
    raise KeyboardInterrupt


long_loop()
