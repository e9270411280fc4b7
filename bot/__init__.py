"""CCHC Bot."""

import os

# The matcher uses no BLAS routine: OpenBLAS's worker threads (one per core, started when
# numpy is imported) would only hold memory. Set before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
