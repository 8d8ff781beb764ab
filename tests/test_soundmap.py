"""/map's placing and picture (bot.recommend.soundmap, bot.present.soundmap, bot.app.soundmap):
the image's size and content (points plotted, landmarks named, the highlighted track), thinning
past MAX_POINTS, the projection's stability from one day to the next, and the use case on a
real SQLite file."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re

import numpy as np
import pytest
from PIL import Image

from bot import store
from bot.app.soundmap import EmptyMap, SoundMaps
from bot.catalog import EMBEDDING_DIM, LIKE, TAG_COUNT, Catalog, UnknownTrack
from bot.genres import FAMILIES
from bot.i18n import speaking
from bot.present.soundmap import LABEL_CHARS, SIZE, draw_map, label_text
from bot.recommend.service import CatalogCache
from bot.recommend.soundmap import (
    MAX_POINTS,
    UnknownMapGenre,
    fit_projection,
    map_family,
    sound_map,
    stable_sample,
)
from bot.store import open_database

FAMILY_SET = ("rock", "jazz", "electronic", "classical", "hiphop", "ambient")


def clustered(n: int, seed: int = 0, *, start: int = 1) -> Catalog:
    """``n`` tracks in six families, each family a direction in sound."""
    centres = np.random.default_rng(1234).normal(size=(len(FAMILY_SET), EMBEDDING_DIM))
    rng = np.random.default_rng(seed)
    family = rng.integers(0, len(FAMILY_SET), n)
    embeddings = (centres[family] + 0.7 * rng.normal(size=(n, EMBEDDING_DIM)) + 0.2).astype(np.float32)
    return Catalog(
        guild_id=1,
        ids=np.arange(start, start + n, dtype=np.int64),
        titles=[f"Artist {i % 40} - Song {i}" for i in range(start, start + n)],
        top_genres=[FAMILY_SET[f] for f in family],
        durations=np.full(n, 200.0),
        tag_probs=np.zeros((n, TAG_COUNT), np.float32),
        embeddings=embeddings,
    )


def joined(a: Catalog, b: Catalog) -> Catalog:
    return Catalog(
        guild_id=a.guild_id,
        ids=np.concatenate([a.ids, b.ids]),
        titles=a.titles + b.titles,
        top_genres=a.top_genres + b.top_genres,
        durations=np.concatenate([a.durations, b.durations]),
        tag_probs=np.concatenate([a.tag_probs, b.tag_probs]),
        embeddings=np.concatenate([a.embeddings, b.embeddings]),
    )


def test_every_track_is_plotted_in_a_small_catalog_with_likes_centre_and_landmarks():
    catalog = clustered(200)
    placed = sound_map(catalog, liked_rows=[0, 1, 2], disliked_rows=[3], highlight_track_id=int(catalog.ids[10]))
    assert placed.shown == placed.total == 200
    assert placed.liked.shape == (3, 2) and placed.disliked.shape == (1, 2)
    assert placed.centre == pytest.approx(tuple(placed.liked.mean(axis=0)), abs=1e-5)
    assert 1 <= len(placed.landmarks) <= 6
    named_families = {catalog.top_genres[catalog.index_of(m.track_id)] for m in placed.landmarks}
    assert len(named_families) == len(placed.landmarks)  # one landmark per family: the map's signposts
    assert placed.highlight is not None and placed.highlight.track_id == catalog.ids[10]

    drawing = draw_map(placed, title="Test server", member="alice")
    image = Image.open(io.BytesIO(drawing.png))
    assert image.size == SIZE == drawing.size
    assert drawing.plotted == 200
    assert drawing.labels[:-1] == tuple(label_text(m.title) for m in placed.landmarks)
    assert drawing.labels[-1] == label_text(catalog.titles[10])  # the highlighted track is named
    # the highlight's red ring is drawn: pure-ish red pixels exist
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    assert ((pixels[:, 0] > 220) & (pixels[:, 1] < 60) & (pixels[:, 2] < 110)).sum() > 200


def test_big_catalogs_thin_out_stably_and_keep_the_highlight():
    catalog = clustered(MAX_POINTS * 3)
    last = int(catalog.ids[-1])
    placed = sound_map(catalog, highlight_track_id=last)
    assert placed.total == MAX_POINTS * 3
    assert MAX_POINTS <= placed.shown <= MAX_POINTS + 1 and last in placed.track_ids
    again = sound_map(catalog, highlight_track_id=last)
    assert np.array_equal(again.track_ids, placed.track_ids)  # deterministic
    assert draw_map(placed, title="big").plotted == placed.shown
    # a new track changes the stable sample by at most one member
    sample = set(stable_sample(catalog.ids, 500).tolist())
    grown = set(stable_sample(np.append(catalog.ids, catalog.ids[-1] + 1), 500).tolist())
    assert len(sample - grown) <= 1


def test_the_map_barely_moves_when_a_few_tracks_arrive():
    """Day one: 1,000 tracks; day two: 20 more (2 %). The old tracks' places move by less than
    3 % of the map's spread, and no axis flips (the components' signs are fixed)."""
    before = clustered(1000, seed=1)
    after = joined(before, clustered(20, seed=2, start=1001))
    xy_before = fit_projection(before).transform(before.embeddings)
    xy_after = fit_projection(after).transform(before.embeddings)
    spread = float(np.ptp(xy_before, axis=0).max())
    moved = np.linalg.norm(xy_after - xy_before, axis=1)
    assert float(np.median(moved)) < 0.03 * spread, (float(np.median(moved)), spread)
    assert float(moved.max()) < 0.06 * spread


def test_a_genre_highlights_its_family_and_names_its_tracks():
    catalog = clustered(300)
    placed = sound_map(catalog, family=map_family("Jazz"))
    jazz = FAMILIES.index("jazz")
    assert placed.family == "jazz" and (placed.families == jazz).sum() == catalog.top_genres.count("jazz")
    assert placed.landmarks and all(
        catalog.top_genres[catalog.index_of(m.track_id)] == "jazz" for m in placed.landmarks
    )
    assert map_family("hip-hop") == "hiphop" and map_family(None) is None
    with pytest.raises(UnknownMapGenre):
        map_family("vaporwave")


def test_titles_are_drawn_as_text_clipped_to_one_line():
    assert label_text("A  $x^2$\nB") == "A $x^2$ B"
    long = label_text("word " * 30)
    assert len(long) <= LABEL_CHARS and long.endswith("…")
    catalog = clustered(12)
    titles = list(catalog.titles)
    titles[3] = "$\\frac{1}{0}$ <@123> **bold** " + "x" * 80  # mathtext would fail on it
    hostile = Catalog(**{**catalog.__dict__, "titles": titles})
    drawing = draw_map(sound_map(hostile, highlight_track_id=4), title="$$$", member="$\\alpha$")
    assert drawing.labels[-1] == label_text(titles[3])


@pytest.mark.parametrize(
    ("language", "member", "line"),
    [
        ("de", "Alice", "Geschmack von Alice"),  # a third longer than "Alice's taste": it was cut off
        ("de", "Maximilian", "Geschmack von\nMaximilian"),  # on two lines rather than cut
        ("pt-BR", "Alexandra Wonderland", "gosto de Alexandra\nWonderl…"),  # clipped to 18, on two lines
        ("en-US", "W" * 30, "W+…'s taste"),  # the name shortened, not the words around it
    ],
)
def test_the_legend_stays_inside_the_picture_in_every_language(language, member, line):
    """The legend's lines are measured and wrapped or shortened to the picture's width, so no
    language or name runs past its right edge (the map is shown at about 550 px wide)."""
    catalog = clustered(200)
    placed = sound_map(catalog, liked_rows=[0, 1], disliked_rows=[3], highlight_track_id=int(catalog.ids[10]))
    with speaking(language):
        drawing = draw_map(placed, title="Guild One", member=member)
    assert any(re.fullmatch(line, drawn) for drawn in drawing.legend), drawing.legend
    image = np.asarray(Image.open(io.BytesIO(drawing.png)).convert("L"))
    assert int((image[:, -6:] < 200).sum()) == 0  # nothing drawn at the picture's right edge


def test_the_names_on_the_map_cover_neither_the_taste_star_nor_each_other():
    """A landmark's name sat under the taste's ★ ("Artist 4★- Song 115") or over the member's ○:
    each name now goes to the first of four places around its point that covers no ★, ring, dot,
    ○, × or other name."""
    catalog = clustered(300)
    placed = sound_map(catalog, liked_rows=[0, 1, 2], highlight_track_id=int(catalog.ids[7]))
    landmark = placed.landmarks[0]
    crowded = dataclasses.replace(placed, centre=landmark.xy)  # the ★ right on a landmark's dot
    drawing = draw_map(crowded, title="Guild One", member="alice")
    assert len(drawing.label_boxes) == len(drawing.labels) == len(placed.landmarks) + 1
    assert drawing.star is not None
    x, y = drawing.star
    star = (x - 12, y - 12, x + 12, y + 12)

    def overlap(a, b) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    assert len(drawing.marks) == 2 + len(placed.landmarks) + 3  # ★, ring, the dots, alice's three ○
    dots = [m for m in drawing.marks if m[2] - m[0] <= 16]  # the landmarks' dots and alice's ○
    assert len(dots) == len(placed.landmarks) + 3
    for i, box in enumerate(drawing.label_boxes):
        assert not overlap(box, star), (drawing.labels[i], box, star)
        assert not any(overlap(box, mark) for mark in dots), (drawing.labels[i], box)
        assert min(box) >= 0 and box[2] <= SIZE[0] and box[3] <= SIZE[1]
        for j, other in enumerate(drawing.label_boxes[:i]):
            assert not overlap(box, other), (drawing.labels[i], drawing.labels[j])


def test_the_names_on_the_map_leave_the_members_likes_visible():
    """A landmark's name covered the member's ○ right beside it: a ○ where each name would go
    first (above its point, on its side) sends the name elsewhere."""
    catalog = clustered(300)
    placed = sound_map(catalog)
    xy = placed.xy
    # the axes' pixels per unit (603 x 581 px for the points' range and 8 % margins each side)
    per_x = 603 / (float(np.ptp(xy[:, 0])) * 1.16)
    per_y = 581 / (float(np.ptp(xy[:, 1])) * 1.16)
    middle = float(xy[:, 0].min() + xy[:, 0].max()) / 2
    liked = np.asarray(
        [(m.xy[0] + (80 if m.xy[0] <= middle else -80) / per_x, m.xy[1] + 20 / per_y) for m in placed.landmarks],
        dtype=np.float32,
    )
    drawing = draw_map(dataclasses.replace(placed, liked=liked), title="Guild One", member="alice")
    rings = [m for m in drawing.marks if m[2] - m[0] == 16]
    assert len(rings) == len(placed.landmarks)

    def overlap(a, b) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for label, box in zip(drawing.labels, drawing.label_boxes, strict=True):
        assert not any(overlap(box, ring) for ring in rings), (label, box)


@pytest.mark.parametrize(("language", "said"), [("en-US", "3,000 of 3,500"), ("de", "3.000 von 3.500")])
def test_counts_are_written_as_the_members_language_writes_them(language, said):
    """A German member read "3,000 von 3,500 Titeln" (three point nought): counts are grouped as
    the language groups them, in the answer and on the picture."""
    from bot.app.soundmap import MapImage
    from cogs.soundmap import map_embed

    placed = sound_map(clustered(MAX_POINTS + 500))
    assert placed.shown == MAX_POINTS
    with speaking(language):
        drawing = draw_map(placed, title="Guild One")
        embed = map_embed(MapImage(drawing.png, placed, drawing), title="Guild One", member=None)
    assert said in (embed.description or ""), embed.description
    assert said in drawing.footer, drawing.footer


@pytest.mark.parametrize("language", ["en-US", "de"])
def test_a_family_the_server_has_no_track_of_is_said_to_have_none(language):
    """/map genre:Blues on a server without blues drew every track grey and said "Highlighted:
    **Blues**": the answer and the legend now say there is no such track yet."""
    from bot.app.soundmap import MapImage
    from bot.genres import display_name
    from bot.i18n import _
    from cogs.soundmap import map_embed

    catalog = clustered(120)  # six families, none of them blues
    for family, expected in (("blues", 0), ("jazz", catalog.top_genres.count("jazz"))):
        placed = sound_map(catalog, family=map_family(family))
        assert placed.in_family == expected
        with speaking(language):
            drawing = draw_map(placed, title="Guild One")
            embed = map_embed(MapImage(drawing.png, placed, drawing), title="Guild One", member=None)
            name = display_name(family)
            highlighted = _("Highlighted: **{family}**.").format(family=name)
            none_yet = _("No track here is filed under **{family}** yet.").format(family=name)
        said = embed.description or ""
        if expected:
            assert highlighted in said and none_yet not in said and f"{name} (0)" not in drawing.legend
        else:
            assert none_yet in said and highlighted not in said, said
            assert f"{name} (0)" in drawing.legend, drawing.legend


def test_unknown_highlight_is_refused():
    with pytest.raises(UnknownTrack):
        sound_map(clustered(10), highlight_track_id=999)


async def test_the_use_case_marks_a_members_ratings(tmp_path):
    async with open_database(tmp_path / "crate.sqlite3") as db:
        maps = SoundMaps(CatalogCache(db))
        with pytest.raises(EmptyMap):
            await maps.draw(7)
        ids = []
        rng = np.random.default_rng(3)
        for i in range(30):
            track, _ = await store.add_track(
                db, 7, title=f"Artist {i} - Song {i}", source_url=None, source_kind="file", content_hash=hashlib.sha256(f"h{i}".encode()).hexdigest(),
                duration=100.0 + i * 7, genres=((FAMILY_SET[i % 6], 0.9),),
                tag_probs=np.zeros(TAG_COUNT, np.float32),
                embedding=rng.normal(size=EMBEDDING_DIM).astype(np.float32), tempo=None, shared_by=5,
            )  # fmt: skip
            ids.append(track.id)
        await store.rate(db, 7, 5, ids[0], LIKE)
        image = await maps.draw(7, member_id=5, member_name="alice", track_id=ids[4])
        assert image.liked == 1 and image.disliked == 0 and image.drawing.plotted == 30
        assert image.sound_map.highlight is not None and image.sound_map.highlight.track_id == ids[4]
        assert Image.open(io.BytesIO(image.png)).size == SIZE
        with pytest.raises(UnknownTrack):
            await maps.draw(7, track_id=10_000)


class _Chosen:
    def __init__(self, public: bool):
        self.profiles_public = public


class _Settings:
    def __init__(self, public: bool):
        self.public = public

    async def get(self, guild_id: int) -> _Chosen:
        return _Chosen(self.public)


async def test_another_members_likes_are_marked_only_where_profiles_are_public(tmp_path):
    from bot.app.taste import TastePrivate

    async with open_database(tmp_path / "crate.sqlite3") as db:
        rng = np.random.default_rng(4)
        track, _ = await store.add_track(
            db, 7, title="Only", source_url=None, source_kind="file", content_hash=hashlib.sha256(b"o").hexdigest(),
            duration=100.0, genres=(("jazz", 0.9),), tag_probs=np.zeros(TAG_COUNT, np.float32),
            embedding=rng.normal(size=EMBEDDING_DIM).astype(np.float32), tempo=None, shared_by=5,
        )  # fmt: skip
        await store.rate(db, 7, 5, track.id, LIKE)
        private = SoundMaps(CatalogCache(db), _Settings(False))  # type: ignore[arg-type]
        with pytest.raises(TastePrivate):
            await private.draw(7, member_id=5, viewer_id=6)
        assert (await private.draw(7, member_id=5, viewer_id=5)).liked == 1  # your own, always
        public = SoundMaps(CatalogCache(db), _Settings(True))  # type: ignore[arg-type]
        assert (await public.draw(7, member_id=5, viewer_id=6)).liked == 1
