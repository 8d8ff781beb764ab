"""Imported once by the analysis pool's fork server (see :data:`bot.jobs.analysis.PRELOAD`).

Importing this module does what every analysis worker would otherwise do for itself: import the
listening stack (the taggers, the genre head, and librosa for the handcrafted features and the
tempo, with its numba functions loaded from numba's cache: :func:`bot.listen.warm.warm`, about a
second), PyAV, which decodes the audio (~90 ms to import), and libsoxr, which resamples it
(``bot.audio.decode`` imports both only when it first decodes, so that the bot process never
loads them). Every worker, and every replacement after a crash, is forked from that process and
starts with it in memory. (yt-dlp is not needed here: links are downloaded in processes of their
own, ``bot.audio.download``.)
"""

import av  # noqa: F401
import soxr  # noqa: F401

from bot.listen import analyze  # noqa: F401
from bot.listen.warm import warm

warm()
