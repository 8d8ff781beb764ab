"""Imported once by the analysis pool's fork server (see :data:`bot.listen.worker.PRELOAD`).

Importing this module does what every analysis worker would otherwise do for itself: import the
listening stack and yt-dlp, and run the handcrafted features once, so that librosa's numba
functions are compiled (or loaded from numba's cache) in the fork server. Every worker, and every
replacement after a crash, is forked from that warm process and starts with all of it in memory.
"""

from bot.audio import fetch  # noqa: F401  (yt-dlp: imported once for every worker)
from bot.listen import analyze  # noqa: F401
from bot.listen.features import warm_up

warm_up()
