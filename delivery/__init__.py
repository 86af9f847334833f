"""The core of Songda: dispatches, storage, the HTTP API, the worker and the CLI."""

import warnings

# pyHanko imports cryptography's DSA types, which cryptography deprecates; Songda never uses DSA
# and the warning would open every command's output and every render worker's log.
warnings.filterwarnings("ignore", "DSA is deprecated")
