"""The per-server head (bot/listen/server_head.py): majority, evidence, blend — on real embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.catalog import Correction
from bot.listen.server_head import majority, relabel

REFERENCE = Path(__file__).parent / "data" / "musicnn-reference"
FAMILIES = ("rock", "metal", "electronic", "ambient")


def c(track: int, user: int, genre: str, at: float = 0.0) -> Correction:
    return Correction(guild_id=1, track_id=track, user_id=user, genre=genre, corrected_at=at)


def test_majority_wins_and_a_tie_teaches_nothing():
    taught = majority([c(1, 1, "rock"), c(1, 2, "metal"), c(1, 3, "Metal"), c(2, 1, "jazz"), c(2, 2, "blues")])
    assert taught == {1: "metal"}


def test_genre_names_compare_loosely_and_keep_the_first_spelling():
    assert majority([c(5, 1, "City Pop"), c(5, 2, "city-pop")]) == {5: "City Pop"}
    assert majority([c(6, 1, "民謡"), c(6, 2, "民謡"), c(6, 3, "演歌")]) == {6: "民謡"}


def _embeddings() -> tuple[list[str], np.ndarray]:
    names, rows = [], []
    for path in sorted(REFERENCE.glob("*.npz")):
        with np.load(path) as npz:
            rows.append(npz["penultimate"].mean(axis=0))
        names.append(path.stem)
    return names, np.asarray(rows)


def test_nothing_taught_is_the_base_model():
    base = np.asarray([[0.5, 0.2, 0.2, 0.1], [0.1, 0.1, 0.7, 0.1]])
    out = relabel(np.eye(2, 3), base, FAMILIES, [])
    assert out.names == FAMILIES
    np.testing.assert_allclose(out.probabilities, base)


def test_two_corrections_change_similar_tracks_but_not_different_ones():
    names, x = _embeddings()
    n = len(names)
    base = np.tile([0.55, 0.25, 0.1, 0.1], (n, 1))  # the base model says rock for everything
    electronic = [names.index("brainsukker"), names.index("infight")]
    assert np.argmax(base[electronic[0]]) == 0
    out = relabel(x, base, FAMILIES, [(names.index("brainsukker"), "electronic")])
    one = out.ranked(names.index("infight"))
    out2 = relabel(x, base, FAMILIES, [(names.index("brainsukker"), "electronic"), (names.index("Nebula"), "ambient")])
    # the taught track itself answers what its members said
    assert out.ranked(names.index("brainsukker"))[0][0] == "electronic"
    # infight sounds like brainsukker (cosine 0.87): one correction moves it towards electronic
    assert dict(one)["electronic"] > 0.1 + 0.05
    # the metal track sounds like neither (cosine 0.2): it keeps the base answer, nearly unchanged
    beast = out2.ranked(names.index("beast-of-insanity"))
    assert beast[0][0] == "rock" and dict(beast)["rock"] == pytest.approx(0.55, abs=0.04)
    # two more corrections of similar tracks, and infight's answer changes
    media = names.index("Media_Threat")
    taught = [
        (names.index("brainsukker"), "electronic"),
        (media, "electronic"),
        (names.index("Awakening"), "electronic"),
    ]
    assert relabel(x, base, FAMILIES, taught).ranked(names.index("infight"))[0][0] == "electronic"


def test_a_custom_genre_becomes_answerable_once_taught():
    names, x = _embeddings()
    base = np.tile([0.1, 0.1, 0.7, 0.1], (len(names), 1))
    taught = [(names.index("brainsukker"), "Vaporwave"), (names.index("Awakening"), "vaporwave")]
    out = relabel(x, base, FAMILIES, taught)
    assert out.names == (*FAMILIES, "Vaporwave")
    assert out.ranked(names.index("brainsukker"))[0][0] == "Vaporwave"
    assert dict(out.ranked(names.index("infight")))["Vaporwave"] > 0.3
    assert dict(out.ranked(names.index("beast-of-insanity")))["Vaporwave"] < 0.05  # cosine 0.2: far
    np.testing.assert_allclose(out.probabilities.sum(axis=1), 1.0)


def test_the_few_shot_curves_run_on_real_embeddings():
    from bot.listen.training.few_shot import LabelledSet, custom_genre_curve, families_curve

    _names, x = _embeddings()  # Awakening, Media_Threat, Nebula (singularity), beast, brainsukker, infight (nexuiz)
    y = np.asarray([3, 3, 3, 1, 2, 2])
    base = np.tile([0.4, 0.3, 0.15, 0.15], (len(y), 1))  # always "rock": never right here
    data = LabelledSet(x, base, y, FAMILIES)
    [one] = families_curve(data, ks=(1,), seeds=3)
    assert one["families_taught"] == 2 and one["test_tracks"] == 4
    assert one["base_accuracy"] == 0.0 and one["head_accuracy"] > 0.0
    [custom] = custom_genre_curve(data, ks=(1,), seeds=3)
    assert custom["families"] == 2 and 0.0 < custom["recall"] <= 1.0


def test_the_families_curve_within_each_source_teaches_and_judges_only_that_source():
    from bot.listen.training.few_shot import LabelledSet, families_by_source

    _names, x = _embeddings()  # singularity's three, then nexuiz's three
    y = np.asarray([3, 3, 3, 1, 2, 2])
    base = np.tile([0.4, 0.3, 0.15, 0.15], (len(y), 1))
    sources = np.asarray(["singularity"] * 3 + ["nexuiz"] * 3)
    data = LabelledSet(x, base, y, FAMILIES, sources=sources)
    rows = {r["source"]: r for r in families_by_source(data, k=1, seeds=3)}
    # nexuiz: family 2 has two tracks (one taught, one judged); family 1 has one track, so is never taught
    assert rows["nexuiz"]["tracks"] == 3 and rows["nexuiz"]["families_taught"] == 1
    assert rows["nexuiz"]["test_tracks"] == 2
    assert rows["singularity"]["families_taught"] == 1 and rows["singularity"]["test_tracks"] == 2
    assert rows["singularity"]["base_accuracy"] == 0.0 and rows["singularity"]["head_accuracy"] > 0.0
    assert families_by_source(LabelledSet(x, base, y, FAMILIES)) == []
