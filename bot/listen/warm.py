"""Fill numba's cache with the librosa functions analysis runs, so that no analysis compiles them.

    python -m bot.listen.warm

librosa's numba functions are compiled when its modules are first imported (or a function first
called) in a process, unless numba's on-disk cache holds them: in librosa's own ``__pycache__``
folders when those are writable (a virtual environment), else in ``$NUMBA_CACHE_DIR`` or
``~/.cache/numba``. Compiling them takes seconds; loading them from the cache, a fraction of one.
``scripts/setup.sh`` and the Docker build run this module once; a second run only loads the cache.
The analysis pool's fork server calls :func:`warm` as well (:mod:`bot.listen.preload`), so that
every worker starts with librosa imported and its functions loaded.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from bot.audio.decode import SAMPLE_RATE

#: The length of an analysis excerpt (``bot.audio.decode``): the warm-up runs the same code path.
SECONDS = 6.0


def warm() -> None:
    """Run every librosa function analysis uses once, on a few seconds of synthetic noise."""
    from bot.listen.features import handcrafted_features  # every feature, and the tempo

    noise = np.random.default_rng(0).normal(0.0, 0.1, int(SECONDS * SAMPLE_RATE)).astype(np.float32)
    handcrafted_features(noise, SAMPLE_RATE)


def main() -> int:
    started = time.perf_counter()
    warm()
    where = os.environ.get("NUMBA_CACHE_DIR") or "librosa's __pycache__ folders (~/.cache/numba if read-only)"
    print(f"librosa's numba functions compiled or loaded in {time.perf_counter() - started:.1f} s; cache: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
