"""Crate: a Discord bot that listens to the music a server shares.

Everything in this package works without Discord; the Discord layer lives in ``cogs``.
"""

__version__ = "0.1.0"
