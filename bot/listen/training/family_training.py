"""Training and evaluation data for the family model (:mod:`bot.listen.families`).

Every labelled file is heard once, as analysis hears it (the same 6-s excerpts, both taggers),
and its per-excerpt outputs are cached in an npz per file, so re-running the training or the
evaluation costs no audio work. Labels come from ``bot/assets/family-model/sources.json``: each
entry names where the files are (a folder or a zip/pk3 inside a Debian package), the family, and
why that label is trustworthy; GTZAN-mini's labels are its folder names.

Run ``python -m bot.listen.training.family_training --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.listen import families

#: Where the shared data and models are during development (never read at run time).
SHARED = Path(__file__).resolve().parents[3].parent / "shared"
SOURCES = families.ASSETS / "sources.json"
#: Where the taggers' outputs for the training music are cached (outside the repository).
FEATURE_CACHE = Path.home() / ".cache" / "crate" / "families"
#: Part of every cached file's key: bump it whenever what :func:`extract` hears changes
#: (v2: one 3-s patch per excerpt, ``musicnn.excerpt_patches``; v3: the MTT tagger hears only the first
#: and the last excerpt; v4: windows resampled by libsoxr; v5: both taggers hear both 3-s patches of
#: every excerpt; v6: GTZAN's clips heard as analysis hears any clip, not tiled; v7: a clip shorter
#: than 18 s heard in as many 6-s windows as fit, not its first 6 s alone, ``decode.analysis_windows``).
CACHE_VERSION = "v7"

#: AllMusic's genres (``../shared/data/commercial-4q/labels.csv``) -> the families a clip is positive
#: for. Broad genres are partial labels: ``Pop/Rock`` cannot tell rock, pop and metal apart, so a
#: clip listed under it counts as right when answered any of the three. ``International`` and
#: ``Latin`` are mostly folk and world music, ``Vocal`` is traditional vocal pop and standards,
#: ``Stage & Screen`` film and show music (scores: classical); ``Easy Listening``, ``Holiday``,
#: ``Children's``, ``Comedy/Spoken``, ``Avant-Garde`` and ``Religious`` name no family.
ALLMUSIC_FAMILIES: dict[str, tuple[str, ...]] = {
    "Pop/Rock": ("rock", "pop", "metal"),
    "Jazz": ("jazz",),
    "International": ("folk",),
    "Latin": ("folk",),
    "Folk": ("folk",),
    "Electronic": ("electronic",),
    "Vocal": ("pop", "jazz"),
    "R&B": ("soul",),
    "Blues": ("blues",),
    "Country": ("country",),
    "Stage & Screen": ("classical",),
    "Classical": ("classical",),
    "New Age": ("ambient",),
    "Rap": ("hiphop",),
    "Reggae": ("reggae",),
}
#: AllMusic's catch-all genres: listed for nearly everything popular (``Pop/Rock``), for music from
#: anywhere outside the US (``International``, ``Latin``), for any singer of standards (``Vocal``)
#: or any soundtrack (``Stage & Screen``). When a clip also lists a specific genre ("Electronic;
#: Pop/Rock", "R&B; Pop/Rock", "Country; International"), that genre is what the distributor tells
#: us about it: the report counts an answer of that genre as "specific" (a clip listing only
#: catch-alls keeps them all). Training uses every listed family (partial labels), which did better
#: in grouped CV than training for the specific genre alone (0.76 against 0.57 top-1 on the previews).
CATCH_ALL = frozenset({"Pop/Rock", "International", "Latin", "Vocal", "Stage & Screen"})


def allmusic_labels(
    genres: Sequence[str], mapping: Mapping[str, tuple[str, ...]] = ALLMUSIC_FAMILIES
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(listed, specific)``: every family a clip's genres map to (what it is trained for) and
    those of its specific genres when it has any (see :data:`CATCH_ALL`; else ``listed``).
    ``mapping``: AllMusic genre -> families (another reading of them, for an experiment)."""
    families_of = lambda names: tuple(dict.fromkeys(f for g in names for f in mapping.get(g, ())))  # noqa: E731
    specific = [g for g in genres if g not in CATCH_ALL]
    listed = families_of(genres)
    return listed, (families_of(specific) or listed)


@dataclass(frozen=True)
class Item:
    """One labelled file."""

    path: Path
    labels: tuple[str, ...]  # the families it is positive for; () = no defensible label (never trained on)
    source: str  # e.g. "gtzan-mini", "nexuiz-music", "commercial-4q"
    group: str  # files of one group never straddle a CV split (an artist, a package, a GTZAN clip)
    title: str = ""  # "artist - title" where known (the report's examples)
    specific: tuple[str, ...] = ()  # the families its specific genres name (CATCH_ALL); () = labels

    @property
    def family(self) -> str | None:
        """The first family it is positive for (the stratification label)."""
        return self.labels[0] if self.labels else None


def _listener():
    from bot.listen.analyze import Listener

    return Listener.load(with_genres=False)  # both taggers, as analysis loads them


def extract(path: Path, listener) -> dict[str, np.ndarray]:
    """Per-excerpt outputs of both taggers for one file (the analysis' excerpts, GTZAN's 30-s clips
    too), heard by analysis' own :meth:`Listener.describe`, so training and its cross-validated
    figures never hear other patches than analysis. (Tiling GTZAN's clips every 3 s instead made its
    figure optimistic: 0.82 out of fold, 0.77-0.78 on the same clips as analysis hears them.)"""
    from bot.audio.decode import decode_excerpts

    decoded = decode_excerpts(path)
    heard = listener.describe(decoded, with_vectors=False)
    rows = {
        "msd_tags": heard.tag_probs,
        "msd_pen": heard.embeddings,
        "mtt_tags": heard.mtt_tag_probs,
        "mtt_pen": heard.mtt_embeddings,
    }
    return {k: np.asarray(v, dtype=np.float32) for k, v in rows.items()}


def cached_features(
    items: Sequence[Item], cache: Path, *, log=print, cached_only: bool = False
) -> list[dict[str, np.ndarray] | None]:
    """Features of every item, from ``cache`` when there, else extracted (and cached)."""
    cache.mkdir(parents=True, exist_ok=True)
    listener = None
    out = []
    for i, item in enumerate(items):
        key = hashlib.sha256(f"{item.path}|{CACHE_VERSION}".encode()).hexdigest()[:20]
        target = cache / f"{key}.npz"
        if not target.exists() and cached_only:
            out.append(None)
            continue
        if not target.exists():
            listener = listener or _listener()
            try:
                features = extract(item.path, listener)
            except Exception as error:
                log(f"[{i + 1}/{len(items)}] skipped {item.path}: {error}")
                out.append(None)
                continue
            np.savez(target, **features)
            log(f"[{i + 1}/{len(items)}] {item.source} {item.family} {item.path.name}")
        with np.load(target) as npz:
            out.append({k: npz[k] for k in npz.files})
    return out


# --------------------------------------------------------------------------- labelled data


def gtzan_items(root: Path) -> list[Item]:
    folders = {"hiphop": "hiphop"}  # GTZAN's folder names are already family ids
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        family = folders.get(folder.name, folder.name)
        if family not in families.FAMILIES:
            continue
        for path in sorted(folder.glob("*.wav")):
            items.append(Item(path, (family,), "gtzan-mini", f"gtzan:{path.stem}"))
    return items


def debian_items(sources: dict, extract_dir: Path) -> list[Item]:
    """Files named in ``sources.json`` (``archive`` entries are unpacked into ``extract_dir``)."""
    items = []
    for entry in sources["debian"]:
        base = Path(entry["root"])
        if "archive" in entry:
            archive = Path(entry["archive"])
            if not archive.exists():
                continue
            base = extract_dir / entry["package"]
            if not base.exists():
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(base)
            base = base / entry["root"]
        for name, family in entry["files"].items():
            path = base / name
            if path.exists():
                group = entry.get("group", entry["package"])
                items.append(Item(path, (family,) if family else (), entry["package"], group))
    return items


def commercial_items(root: Path, mapping: Mapping[str, tuple[str, ...]] = ALLMUSIC_FAMILIES) -> list[Item]:
    """The commercial-4q previews, positive for every family their AllMusic genres map to
    (``mapping``, by default :data:`ALLMUSIC_FAMILIES`), grouped by artist. Heard as analysis hears
    any ~30-s preview."""
    import csv

    items = []
    with (root / "labels.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            genres = [g.strip() for g in row["allmusic_genres"].split(";") if g.strip()]
            labels, specific = allmusic_labels(genres, mapping)
            artist = row["artist"].strip().casefold()
            title = f"{row['artist']} - {row['title']}"
            items.append(Item(root / row["file"], labels, "commercial-4q", f"artist:{artist}", title, specific))
    return items


def load_items(
    gtzan: Path | None,
    extract_dir: Path,
    commercial: Path | None = None,
    mapping: Mapping[str, tuple[str, ...]] = ALLMUSIC_FAMILIES,
) -> list[Item]:
    sources = json.loads(SOURCES.read_text("utf-8"))
    items = gtzan_items(gtzan) if gtzan and gtzan.is_dir() else []
    items += commercial_items(commercial, mapping) if commercial and (commercial / "labels.csv").is_file() else []
    return items + debian_items(sources, extract_dir)


def sample_items(items: Sequence[Item], per_stratum: int) -> list[Item]:
    """At most ``per_stratum`` items of each family from each source (an unlabelled source, such as
    a game's soundtrack, is one stratum), the first in ``items``' order: a quick look at what the
    whole set would say, heard in a minute or two instead of the whole set's ten."""
    taken: dict[tuple[str, str | None], int] = {}
    kept = []
    for item in items:
        stratum = (item.source, item.family)
        if taken.get(stratum, 0) < per_stratum:
            taken[stratum] = taken.get(stratum, 0) + 1
            kept.append(item)
    return kept


@dataclass(frozen=True)
class Dataset:
    items: tuple[Item, ...]
    inputs: families.FamilyInputs  # per-track (excerpt-averaged) tagger outputs
    y: np.ndarray  # first family's index per track (the stratification label), -1 when unlabelled
    groups: np.ndarray  # group id per track
    Y: np.ndarray  # [n, 14] 1 for every family a track is positive for (partial labels)
    specific: np.ndarray  # [n, 14] 1 for the families its specific genres name (Item.specific)


def build_dataset(items: Sequence[Item], features: Sequence[dict | None]) -> Dataset:
    kept = [(item, f) for item, f in zip(items, features) if f is not None]
    stack = lambda key: np.stack([f[key].mean(axis=0) for _, f in kept]).astype(np.float32)  # noqa: E731
    inputs = families.FamilyInputs(stack("msd_tags"), stack("msd_pen"), stack("mtt_tags"), stack("mtt_pen"))
    y = np.asarray([families.FAMILIES.index(item.family) if item.family else -1 for item, _ in kept])
    names = sorted({item.group for item, _ in kept})
    groups = np.asarray([names.index(item.group) for item, _ in kept])
    Y, specific = np.zeros((2, len(kept), len(families.FAMILIES)))
    for row, (item, _) in enumerate(kept):
        Y[row, [families.FAMILIES.index(f) for f in item.labels]] = 1
        specific[row, [families.FAMILIES.index(f) for f in item.specific or item.labels]] = 1
    return Dataset(tuple(item for item, _ in kept), inputs, y, groups, Y, specific)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gtzan", type=Path, default=SHARED / "data" / "gtzan-mini")
    parser.add_argument("--commercial", type=Path, default=SHARED / "data" / "commercial-4q")
    parser.add_argument("--cache", type=Path, default=FEATURE_CACHE)
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument("--cached-only", action="store_true", help="use only files already in the cache")
    parser.add_argument("--output", type=Path, default=None, help="model directory (default: the packaged one)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    items = load_items(args.gtzan, args.cache / "extracted", args.commercial)
    features = cached_features(
        items,
        args.cache / "features",
        log=lambda m: print(m, file=sys.stderr, flush=True),
        cached_only=args.cached_only,
    )
    if args.extract_only:
        return 0
    from bot.listen.training import family_fit

    return family_fit.main(build_dataset(items, features), args)


if __name__ == "__main__":
    raise SystemExit(main())
