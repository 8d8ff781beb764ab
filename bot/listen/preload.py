"""Imported once by the analysis pool's fork server (see :data:`bot.listen.worker.PRELOAD`).

Importing this module does what every analysis worker would otherwise do for itself: import the
listening stack (numpy only: the taggers, the handcrafted features, the genre head) and yt-dlp.
Every worker, and every replacement after a crash, is forked from that process and starts with
all of it in memory.
"""

from bot.audio import fetch  # noqa: F401  (yt-dlp: imported once for every worker)
from bot.listen import analyze  # noqa: F401
