"""Recommendations from a server's catalog: taste profiles, ranking, evaluation. Discord-free.

* :mod:`~bot.recommend.profile` — a member's taste from their ratings (:class:`TasteProfile`).
* :mod:`~bot.recommend.rank` — :class:`Recommender`: content + dislikes + genres + the server's
  taste, re-ranked for diversity, every pick with its reason.
* :mod:`~bot.recommend.service` — :func:`recommend_for`: the same against the store, with a
  per-guild catalog cache.
* :mod:`~bot.recommend.evaluate` / :mod:`~bot.recommend.labeled` — ``crate evaluate-recs``.
"""

from bot.recommend.profile import HALF_LIFE_DAYS, TasteProfile, build_profile, recency_weight
from bot.recommend.rank import (
    Recommendation,
    Recommender,
    RecommendError,
    UnknownFilter,
)
from bot.recommend.service import RecommendationResult, more_like_for, recommend_for

__all__ = [
    "HALF_LIFE_DAYS",
    "RecommendError",
    "Recommendation",
    "RecommendationResult",
    "Recommender",
    "TasteProfile",
    "UnknownFilter",
    "build_profile",
    "more_like_for",
    "recency_weight",
    "recommend_for",
]
