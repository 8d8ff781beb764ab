"""``crate``: the command line.

Sub-commands: ``classify`` files; ``train`` and ``evaluate`` genre models; ``console`` (the
Discord commands in a terminal) and ``demo`` (a scripted console session on the bundled music,
the no-token main job); ``run`` (the Discord bot); ``worker`` (analysis workers for the
PostgreSQL queue); ``index`` (a local music folder into a server's catalog); ``evaluate-recs``
(the recommender against baselines on a labeled catalog); ``playlists`` (list a server's
playlists, or export one); ``blends`` (a server's Blends, refilled when due); ``recap`` (a
server's or member's recap card); ``migrate-db`` (copy a server's data
from SQLite to PostgreSQL, or back); ``doctor`` (is this machine ready to run Crate).
Heavy imports happen inside the commands so that ``crate --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.output import make_folder, write_output
from bot.errors import CrateError
from bot.store import connect_database, open_database

if TYPE_CHECKING:
    from bot.config import Settings

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
TOP_GENRES_SHOWN = 3
TOP_TAGS_SHOWN = 5


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    verbose = args.verbose or args.handler in (_run, _worker)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _single_threaded_math()
    try:
        return args.handler(args)
    except CrateError as error:
        print(f"crate: {error.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crate", description="Crate listens to music: genres, tags, taste.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    classify = commands.add_parser("classify", help="tell the genre and style of audio files or links")
    classify.add_argument("paths", nargs="+", metavar="PATH-OR-URL")
    classify.add_argument("--json", action="store_true", help="one JSON object per input per line")
    classify.add_argument("--model", type=Path, help="genre model folder (default: the packaged family model)")
    classify.add_argument("--database", type=Path, help="with --guild: the SQLite file whose server head to use")
    classify.add_argument("--guild", type=int, metavar="GUILD_ID", help="answer with what this server taught Crate")
    classify.set_defaults(handler=_classify)

    teach = commands.add_parser(
        "teach", help="analyze files into a server's catalog and teach it their genre (as a member's correction)"
    )
    teach.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    teach.add_argument("--database", type=Path, required=True, help="the SQLite file (Crate's database)")
    teach.add_argument("--guild", type=int, required=True, metavar="GUILD_ID", help="the Discord server to teach")
    teach.add_argument(
        "--genre", required=True, help='a family (electronic, folk...) or the server\'s own ("city pop")'
    )
    teach.add_argument(
        "--user", type=int, default=0, metavar="USER_ID", help="whose correction it is (default 0: the command line)"
    )
    teach.set_defaults(handler=_teach)

    demo = commands.add_parser("demo", help="a scripted console session on the example music (no token needed)")
    demo.set_defaults(handler=_demo)

    console = commands.add_parser("console", help="Crate's Discord commands in this terminal, on a local database")
    console.add_argument("--user", default="you", help="your listener name (default: you)")
    console.add_argument(
        "--database",
        type=Path,
        help="SQLite file (default: CRATE_DATABASE_URL, else CRATE_DATABASE or ./crate.sqlite3)",
    )
    console.set_defaults(handler=_console)

    run = commands.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")
    run.add_argument("--sync-global", action="store_true", help="publish the slash commands globally, then exit")
    run.set_defaults(handler=_run)

    worker = commands.add_parser(
        "worker", help="run analysis workers for the PostgreSQL queue (CRATE_QUEUE=postgres), on any host"
    )
    worker.set_defaults(handler=_worker)

    train = commands.add_parser(
        "train",
        help="train a custom genre model on DATASET_DIR (one folder per genre) to answer instead of the families",
    )
    train.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    train.add_argument(
        "--out", type=Path, default=Path("genre-model"), help="where to save the model (default: ./genre-model)"
    )
    _add_training_options(train)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="score the genre answer (the families, or --model) on DATASET_DIR; --cv: cross-validate training on it",
    )
    evaluate.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    evaluate.add_argument("--model", type=Path, help="genre model folder (default: the packaged family model)")
    evaluate.add_argument(
        "--cv", action="store_true", help="grouped cross-validation of training a custom model on DATASET_DIR instead"
    )
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument(
        "--few-shot",
        action="store_true",
        help="the per-server head's learning curve: K = 1, 2, 3, 5 tracks taught per family (DATASET_DIR: GTZAN-mini;"
        " also uses the labelled Debian music of the family model)",
    )
    evaluate.add_argument("--seeds", type=int, default=20, help="--few-shot: repetitions per K (default: 20)")
    evaluate.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="--few-shot: hear at most N tracks of each family from each source and N of each soundtrack, a quick"
        " look (default: every track; the first run hears 854 files, about ten minutes)",
    )
    _add_training_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    recs = commands.add_parser(
        "evaluate-recs",
        help="score the recommender against baselines on a labeled catalog (--catalog FILE.npz), or build one",
    )
    recs.add_argument(
        "--catalog", type=Path, metavar="FILE.npz", help="labeled catalog: embeddings, tag_probs, genres, titles"
    )
    recs.add_argument(
        "--dataset",
        type=Path,
        metavar="DATASET_DIR",
        help="analyze this GTZAN-style folder first (instead of --catalog)",
    )
    recs.add_argument(
        "--build-catalog",
        nargs=2,
        type=Path,
        metavar=("DATASET_DIR", "OUT.npz"),
        help="analyze DATASET_DIR into OUT.npz and stop",
    )
    recs.add_argument("--users", type=int, default=200, help="simulated members (default: 200)")
    recs.add_argument("--seed", type=int, default=0)
    recs.add_argument(
        "--taste-bias",
        type=float,
        default=None,
        help="how clustered each member's likes within a genre are (0: uniform)",
    )
    recs.add_argument("--json", action="store_true", help="print the scores as JSON")
    recs.set_defaults(handler=_evaluate_recs)

    index = commands.add_parser(
        "index", help="analyze a local music folder into a server's catalog (resumable: skips files already indexed)"
    )
    index.add_argument("directory", type=Path, metavar="DIR")
    index.add_argument("--guild", type=int, required=True, metavar="GUILD_ID", help="the Discord server to fill")
    index.add_argument("--user", type=int, metavar="USER_ID", help="record the tracks as shared by this member")
    index.set_defaults(handler=_index)

    playlists = commands.add_parser(
        "playlists", help="list a server's playlists, or export one as NAME.m3u and NAME.json (--export NAME)"
    )
    playlists.add_argument("--guild", type=int, required=True, metavar="GUILD_ID", help="the Discord server")
    playlists.add_argument("--export", metavar="NAME", help="the playlist to export")
    playlists.add_argument("--out", type=Path, default=Path("."), help="where to write the files (default: here)")
    playlists.set_defaults(handler=_playlists)

    blends = commands.add_parser("blends", help="list a server's Blends (/blend), refilling those due (daily)")
    blends.add_argument("--guild", type=int, required=True, metavar="GUILD_ID", help="the Discord server")
    blends.add_argument("--refresh", action="store_true", help="refill every Blend of the server now")
    blends.set_defaults(handler=_blends)

    recap = commands.add_parser("recap", help="draw a server's or a member's recap card of a month or year (/recap)")
    recap.add_argument("--guild", type=int, required=True, metavar="GUILD_ID", help="the Discord server")
    recap.add_argument("--user", type=int, metavar="USER_ID", help="the member's recap (default: the server's)")
    recap.add_argument("--period", choices=("month", "year"), default="month", help="default: month")
    recap.add_argument("--ended", action="store_true", help="the month or year just ended (default: this one so far)")
    recap.add_argument("--out", type=Path, default=Path("recap.png"), help="the PNG to write (default: recap.png)")
    recap.set_defaults(handler=_recap)

    sound_map = commands.add_parser(
        "map", help="draw a server's catalog placed by sound as a PNG (a member's likes marked, a track pinned)"
    )
    sound_map.add_argument("--guild", type=int, required=True, metavar="GUILD_ID", help="the Discord server")
    sound_map.add_argument("--user", type=int, metavar="USER_ID", help="mark this member's likes and dislikes")
    sound_map.add_argument("--genre", help="highlight one family (rock, jazz, hip hop…)")
    sound_map.add_argument("--track", type=int, metavar="TRACK_ID", help="pin this track (the 📍 button)")
    sound_map.add_argument("--out", type=Path, default=Path("map.png"), help="the PNG to write (default: map.png)")
    sound_map.set_defaults(handler=_map)

    path = commands.add_parser("path", help="a walk in small steps of sound from one track to another (/path)")
    path.add_argument("start", type=int, metavar="FROM_TRACK_ID")
    path.add_argument("end", type=int, metavar="TO_TRACK_ID")
    path.add_argument("--guild", type=int, required=True, metavar="GUILD_ID", help="the Discord server")
    path.add_argument("--length", type=int, default=8, help="tracks on the path, both ends included (3-25, default 8)")
    path.add_argument("--json", action="store_true", help="one JSON object per step per line")
    path.set_defaults(handler=_path)

    migrate = commands.add_parser(
        "migrate-db", help="copy all of Crate's data into another, empty database (e.g. SQLite to PostgreSQL)"
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="sqlite:///crate.sqlite3, a file, or postgresql://…"
    )
    migrate.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://… (or sqlite:///…)")
    migrate.set_defaults(handler=_migrate_db)

    doctor = commands.add_parser(
        "doctor", help="check that this machine can run Crate: one line a check, and what to do (exit 1 on a ✗)"
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    doctor.set_defaults(handler=_doctor)
    return parser


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    from_blocks = "embedding,handcrafted"
    parser.add_argument(
        "--features",
        default=from_blocks,
        help=f"comma-separated feature blocks among embedding, tags, handcrafted (default: {from_blocks})",
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    parser.add_argument("--seed", type=int, default=0)


#: What BLAS/OpenMP read for their thread count when they load (numpy's OpenBLAS among them).
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _single_threaded_math() -> None:
    """One BLAS thread: Crate's matrices are small, and extra threads cost more than they give
    (``crate classify`` took twice as long with two, spinning against each other).

    The environment variables cover the libraries not loaded yet (the commands import numpy
    lazily, after this), threadpoolctl those already loaded. A value set by the user is kept.
    """
    for variable in _THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _settings():
    from bot.config import Settings

    return Settings.from_env()


def _settings_starting_workers():
    """The settings, with the analysis workers' fork server already starting when this process runs
    them (``bot.jobs.analysis.start_workers_early``): called before a front end's heavy imports."""
    from bot.jobs.analysis import start_workers_early

    settings = _settings()
    start_workers_early(settings)
    return settings


def _classify(args) -> int:

    from bot.listen.analyze import Listener

    if (args.database is None) != (args.guild is None):
        raise CrateError("Give --database and --guild together (the server whose head answers).")
    settings = _settings()
    listener = Listener.load(args.model or settings.genre_model_path)
    head = _server_head(args.database, args.guild) if args.database else contextlib.nullcontext(None)
    failures = 0
    with head as server_head:
        for given in args.paths:
            try:
                with _audio_of(given, settings) as (path, heard):
                    analysis = listener.analyze(path, settings.limits)
                if server_head is not None:
                    analysis = server_head(analysis)
            except CrateError as error:
                failures += 1
                _print_result(args, given, None, error.user_message)
            except Exception as error:  # one broken file must not stop the others
                logging.getLogger(__name__).exception("analysis of %s failed", given)
                failures += 1
                _print_result(args, given, None, f"Crate failed while analyzing this file ({type(error).__name__}).")
            else:
                _print_result(args, given, analysis, None, heard)
    return 1 if failures else 0


@contextlib.contextmanager
def _audio_of(given: str, settings: Settings) -> Iterator[tuple[Path, dict[str, object]]]:
    """The local file to analyze for ``given`` (a path, or a link downloaded through the same
    resolver and address guard as ``/genre url:``), and what was heard (``--json``'s "heard")."""
    if "://" not in given:
        yield Path(given), {"kind": "file"}
        return
    from bot.audio.fetch import download_link, scratch_directory

    with scratch_directory() as directory:
        fetched = download_link(
            given,
            directory,
            limits=settings.limits,
            allowlist=settings.url_allowlist,
            timeout=settings.download_timeout,
            deadline=settings.download_deadline,
            max_page_bytes=settings.max_page_bytes,
            services=settings.service_urls,
        )
        heard = fetched.heard
        if heard is None:
            yield fetched.path, {"kind": "link", "title": fetched.title}
        else:
            record = {"kind": heard.kind, "service": heard.source, "title": heard.title, "artist": heard.artist}
            yield fetched.path, {**record, "description": heard.description}


@contextlib.contextmanager
def _server_head(database: Path, guild_id: int):
    """``heard(analysis) -> analysis`` with the genres of ``guild_id``'s head, on one event loop."""
    import asyncio
    import dataclasses

    from bot.app.teaching import Teacher, confident

    if not database.is_file():
        raise CrateError(f"No Crate database at {database}.")
    loop = asyncio.new_event_loop()
    db = loop.run_until_complete(connect_database(database))
    teacher = Teacher(db)

    def heard(analysis):
        genres = loop.run_until_complete(teacher.heard(guild_id, analysis.embedding, analysis.genres))
        return analysis if genres is None else dataclasses.replace(analysis, genres=genres, confident=confident(genres))

    try:
        yield heard
    finally:
        loop.run_until_complete(db.close())
        loop.close()


def _teach(args) -> int:
    import asyncio
    import dataclasses

    from bot.app.crate import Crate
    from bot.app.sharing import Source
    from bot.present.describe import taught_text

    settings = dataclasses.replace(_settings(), database_path=args.database)
    missing = [path for path in args.paths if not path.is_file()]
    if missing:
        raise CrateError(f"No such file: {missing[0]}")

    async def session() -> int:
        failures = 0
        async with Crate.running(settings) as crate:
            for path in args.paths:
                try:
                    shared = await crate.sharing.share(args.guild, args.user, Source.file(path))
                    taught = await crate.teaching.correct(args.guild, args.user, shared.track.id, args.genre)
                except CrateError as error:
                    failures += 1
                    print(f"{path}\n  error: {error.user_message}", flush=True)
                    continue
                print(f"{path}\n  " + taught_text(taught, markdown=False).replace("\n", "\n  "), flush=True)
        return 1 if failures else 0

    return asyncio.run(session())


def _print_result(args, path: str, analysis, error: str | None, heard: dict[str, object] | None = None) -> None:
    if args.json:
        record: dict[str, object] = {
            "path": str(path),
            "duration": None,
            "genres": [],
            "confident": None,
            "tags": [],
            "mtt_tags": [],
            "error": error,
            "source": path if "://" in str(path) else None,  # the link given
            "heard": heard,
        }
        if analysis is not None:
            record.update(
                duration=round(analysis.duration, 3),
                genres=[{"genre": g, "probability": round(p, 4)} for g, p in analysis.genres],
                confident=analysis.confident,
                tags=[{"tag": t, "probability": round(p, 4)} for t, p in analysis.tags],
                mtt_tags=[{"tag": t, "probability": round(p, 4)} for t, p in analysis.mtt_tags],
            )
        print(json.dumps(record), flush=True)
    elif analysis is None:
        print(f"{path}\n  error: {error}", flush=True)
    else:
        from bot.present.describe import answer_lines

        lines = answer_lines(analysis)
        if heard is not None and "description" in heard:
            lines.append(f"heard: {heard['description']}")
        print(f"{path}\n" + "\n".join(f"  {line}" for line in lines), flush=True)


def _example_paths() -> list[Path]:
    paths = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in {".ogg", ".mp3", ".flac", ".wav", ".opus"})
    if not paths:
        raise CrateError(f"No example music found in {EXAMPLES_DIR}.")
    return paths


def demo_script(paths: list[Path]) -> list[str]:
    """A short console session: share the examples, rate them, ask for picks and a profile."""
    from bot.cli.console import DEFAULT_USER

    names = [p.stem for p in paths]
    shown = [os.path.relpath(p) if not os.path.relpath(p).startswith("..") else str(p) for p in paths]
    return [
        "# Crate listens to the example music and tells what it hears:",
        *[f"/genre {path}" for path in shown],
        "# You like the first and dislike the second; Crate learns from it:",
        f"/like {names[0]}",
        f"/dislike {names[1]}",
        "/recommend",
        "/profile",
        "# Another listener, alice, joins:",
        "/as alice",
        f"/like {names[-1]}",
        "/recommend",
        "# How alice's taste matches yours, the charts, and who likes a track:",
        f"/taste {DEFAULT_USER}",
        "/charts",
        f"/who {names[-1]}",
    ]


def _demo(args) -> int:
    """The no-token main job: a scripted console session on the bundled music, in a scratch database."""
    import asyncio
    import dataclasses
    import tempfile

    settings = _settings_starting_workers()

    from bot.app.crate import Crate
    from bot.cli.console import run_console

    with tempfile.TemporaryDirectory(prefix="crate-demo-") as scratch:
        settings = dataclasses.replace(
            settings, database_path=Path(scratch) / "demo.sqlite3", database_url=None, workers=1
        )

        async def session() -> None:
            async with Crate.running(settings) as crate:
                await run_console(crate, lines=demo_script(_example_paths()), echo=True)

        asyncio.run(session())
    return 0


def _console(args) -> int:
    import asyncio
    import dataclasses

    settings = _settings_starting_workers()

    from bot.app.crate import Crate
    from bot.cli.console import run_console

    if args.database:
        settings = dataclasses.replace(settings, database_path=args.database, database_url=None)

    async def session() -> None:
        async with Crate.running(settings) as crate:
            await run_console(crate, user=args.user)

    asyncio.run(session())
    return 0


def _run(args) -> int:
    import asyncio

    if args.sync_global:
        from cogs.client import sync_commands

        count = asyncio.run(sync_commands(_settings()))
        print(f"Published {count} slash commands globally; Discord may take up to an hour to show them everywhere.")
        return 0
    settings = _settings_starting_workers()

    from cogs.client import run_bot

    try:
        asyncio.run(run_bot(settings))
    except asyncio.CancelledError:  # SIGTERM (cogs.client.stop_on_sigterm): a clean stop
        logging.getLogger(__name__).info("stopped")
    return 0


def _worker(args) -> int:
    import asyncio

    from bot.jobs.queue_worker import run_worker
    from cogs.client import stop_on_sigterm

    async def work() -> None:
        stop_on_sigterm()
        await run_worker(_settings())

    try:
        asyncio.run(work())
    except asyncio.CancelledError:  # SIGTERM: jobs in flight go back to the queue
        logging.getLogger(__name__).info("stopped")
    return 0


def _migrate_db(args) -> int:
    import asyncio

    from bot.store.transfer import copy_database, database_target

    source, target = database_target(args.source), database_target(args.target)
    if isinstance(source, Path) and not source.is_file():
        raise CrateError(f"There is no database file at {source}.")

    def progress(table: str, done: int, total: int) -> None:
        print(f"\r  {table}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    async def copy() -> dict[str, int]:
        async with open_database(source) as old, open_database(target) as new:
            return await copy_database(old, new, progress)

    copied = asyncio.run(copy())
    print(f"Copied {sum(copied.values())} rows in {len(copied)} tables; point Crate at the new database to use it.")
    return 0


def _doctor(args) -> int:
    from bot.cli.doctor import run

    return run(as_json=args.json)


def _training_data(args):
    from bot.listen.analyze import Listener
    from bot.listen.training.dataset import extract_training_data, scan_dataset

    tracks = scan_dataset(args.dataset)
    genres = sorted({t.genre for t in tracks})
    print(f"{len(tracks)} tracks in {len(genres)} genres: {', '.join(genres)}", file=sys.stderr)
    listener = Listener.load(with_genres=False, with_mtt=False)  # the feature vector is MSD-based

    def progress(done, total, track):
        print(f"\r  listening {done}/{total}", end="", file=sys.stderr, flush=True)

    data = extract_training_data(tracks, listener, progress=progress)
    print(file=sys.stderr)
    for path, reason in data.skipped:
        print(f"  skipped {path}: {reason}", file=sys.stderr)
    return data


def _blocks(args) -> tuple[str, ...]:
    return tuple(b.strip() for b in args.features.split(",") if b.strip())


def _fit_model(args, data):
    """Train the genre model on ``data`` with the command line's blocks, folds and seed."""
    from bot.listen.analyze import FEATURE_VERSION, block_columns
    from bot.listen.genre import GenreModel

    return GenreModel.train(
        data.X,
        data.y,
        data.groups,
        feature_version=FEATURE_VERSION,
        columns=block_columns(_blocks(args)),
        folds=args.folds,
        seed=args.seed,
        progress=lambda message: print(f"  {message}", file=sys.stderr, flush=True),
    )


def _train(args) -> int:
    data = _training_data(args)
    model = _fit_model(args, data)
    model.metadata["features"] = list(_blocks(args))
    model.metadata["dataset"] = args.dataset.name
    model.save(args.out)
    scores = model.metadata["cross_validation"]["scores"][model.metadata["model"]]
    print(
        f"Chose {model.metadata['model']} (cross-validated track accuracy {scores['accuracy']:.3f}); "
        f"saved to {args.out}. Use it with --model {args.out} or CRATE_GENRE_MODEL={args.out}."
    )
    return 0


def _score_model(args):
    """Classify every labeled file exactly as ``crate classify`` would, and score the answers.

    With the family model (the default) folder names are read as families (ids or names people use:
    "hip hop", "r&b", "world"), and the report adds the reliability of its confidence (top
    probability vs accuracy, ECE) and how often the "not sure" threshold holds back an answer.
    """
    from bot.genres import FAMILIES, family_of
    from bot.listen.analyze import Listener
    from bot.listen.genre import Evaluation
    from bot.listen.training.dataset import scan_dataset

    settings = _settings()
    path = args.model or settings.genre_model_path
    listener = Listener.load(path)  # both taggers: the answer classify and the bot give
    tracks = scan_dataset(args.dataset)
    true, predicted, answers = [], [], []
    for done, track in enumerate(tracks, start=1):
        print(f"\r  listening {done}/{len(tracks)}", end="", file=sys.stderr, flush=True)
        try:
            analysis = listener.analyze(track.path, settings.limits)
        except CrateError as error:
            print(f"\n  skipped {track.path}: {error.user_message}", file=sys.stderr)
            continue
        families = listener.genre_model is None
        true.append((family_of(track.genre) or track.genre) if families else track.genre)
        predicted.append(analysis.top_genre)
        answers.append(analysis)
    print(file=sys.stderr)
    title = f"model {path or 'families (packaged)'} on {args.dataset}"
    if listener.genre_model is not None:
        genres = sorted(set(listener.genre_model.genres) | set(true))
        return Evaluation.from_predictions(true, predicted, genres), None, title
    family_model = listener.family_model
    assert family_model is not None  # Listener.load loads a custom model or the family model
    labels = list(FAMILIES) + sorted(set(true) - set(FAMILIES))
    evaluation = Evaluation.from_predictions(true, predicted, labels)
    return evaluation, _family_report(true, answers, family_model.threshold), title


def _family_report(true, answers, threshold: float) -> dict:
    """Reliability of the family answers on the tracks labelled with a family (family_fit's tables)."""
    import numpy as np

    from bot.genres import FAMILIES
    from bot.listen.training import family_fit

    known = [i for i, label in enumerate(true) if label in FAMILIES]
    p = np.array([[dict(answers[i].genres)[f] for f in FAMILIES] for i in known]).reshape(-1, len(FAMILIES))
    y = np.array([FAMILIES.index(true[i]) for i in known], dtype=int)
    confident = np.array([answers[i].confident for i in known], dtype=bool)
    correct = p.argmax(axis=1) == y if len(y) else np.zeros(0, bool)
    return {
        "tracks": len(known),
        "threshold": threshold,
        "confident_share": float(confident.mean()) if len(y) else None,
        "accuracy_when_confident": float(correct[confident].mean()) if confident.any() else None,
        "accuracy_when_unsure": float(correct[~confident].mean()) if (~confident).any() else None,
        "reliability": family_fit.reliability(p, y) if len(y) else None,
    }


def _family_report_text(report: dict) -> str:
    def share(value) -> str:
        return "–" if value is None else f"{value:.2f}"

    lines = [
        "",
        f"confidence (threshold {report['threshold']:.2f}): {share(report['confident_share'])} of "
        f"{report['tracks']} tracks answered as sure; accuracy when sure {share(report['accuracy_when_confident'])},"
        f" when unsure {share(report['accuracy_when_unsure'])}",
    ]
    if report["reliability"]:
        lines += [
            f"reliability (ECE {report['reliability']['ece']:.3f}):",
            "  confidence  tracks  mean conf.  accuracy",
        ]
        for row in report["reliability"]["bins"]:
            lo, hi = row["bin"]
            lines.append(
                f"  {lo:.1f}–{hi:.1f}     {row['tracks']:6d}  {share(row['confidence']):>10}  {share(row['accuracy']):>8}"
            )
    return "\n".join(lines)


def _evaluate(args) -> int:
    from bot.listen.genre import cross_validate

    if args.few_shot:
        return _few_shot(args)
    if args.cv:
        from bot.listen.genre import candidate_models

        data = _training_data(args)
        model = _fit_model(args, data)
        best = model.metadata["model"]
        evaluation = cross_validate(
            candidate_models(args.seed)[best],
            data.X[:, model.columns],
            data.y,
            data.groups,
            folds=args.folds,
            seed=args.seed,
        )
        title = (
            f"{args.folds}-fold grouped cross-validation on {args.dataset} ({', '.join(_blocks(args))}; best: {best})"
        )
        families = None
    else:
        evaluation, families, title = _score_model(args)
    if args.json:
        print(json.dumps({"evaluation": title, **evaluation.to_dict(), **({"families": families} if families else {})}))
    else:
        print(title)
        print(evaluation.to_text() + (_family_report_text(families) if families else ""))
    return 0


def _few_shot(args) -> int:
    from bot.listen.training import few_shot

    if not args.dataset.is_dir():
        raise CrateError(f"{args.dataset} is not a folder (GTZAN-mini: ../shared/data/gtzan-mini).")
    if args.sample is not None and args.sample < 1:
        raise CrateError("--sample takes a number of tracks, 1 or more.")
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    data, sets, summary = few_shot.labelled_set(args.dataset, sample=args.sample, log=log)
    families = few_shot.families_curve(data, seeds=args.seeds)
    by_source = few_shot.families_by_source(data, seeds=args.seeds)
    custom = few_shot.custom_genre_curve(data, seeds=args.seeds)
    soundtracks = few_shot.custom_set_curve(sets, seeds=args.seeds)
    widths = few_shot.sensitivity(data, sets, seeds=args.seeds)
    if args.json:
        report = {"summary": summary, "seeds": args.seeds, "families": families, "by_source": by_source}
        print(json.dumps({**report, "custom_genre": custom, "soundtracks": soundtracks, "kernel_widths": widths}))
    else:
        tables = {"widths": widths, "sets": soundtracks, "by_source": by_source}
        print(few_shot.render(families, custom, seeds=args.seeds, summary=summary, **tables))
    return 0


def _evaluate_recs(args) -> int:
    from bot.recommend.evaluate import run_cli

    return run_cli(args)


def _index(args) -> int:
    import asyncio

    from bot.app.crate import Crate
    from bot.cli.index import check_folder, index_folder, progress_bar, report_text

    check_folder(args.directory)  # before the workers start: a typo is answered at once
    live = sys.stderr.isatty()  # redraw one line on a terminal, one line per file in a log

    def progress(done: int, total: int, path: Path) -> None:
        bar = progress_bar(done, total, path.name)
        if live:
            print(f"\r\x1b[K{bar}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        else:
            print(bar, file=sys.stderr, flush=True)

    async def session():
        async with Crate.running(_settings()) as crate:
            return await index_folder(crate, args.guild, args.directory, added_by=args.user, progress=progress)

    report = asyncio.run(session())
    print(report_text(report, args.guild, args.directory))
    return 1 if report.failed else 0


def _playlists(args) -> int:
    """``crate playlists``: read from the database alone (no workers, no Discord: links as stored,
    so attachment links older than a day may have expired)."""
    import asyncio

    from bot.app.playlists import PlaylistService, to_json, to_m3u
    from bot.app.sessions import SessionService
    from bot.format import plural
    from bot.store import display_names

    async def session() -> int:
        async with open_database(_settings().database_path) as db:
            service = PlaylistService(db, SessionService(db))
            if args.export is None:
                found = await service.all(args.guild)
                for playlist in found:
                    print(f"{playlist.name}\t{plural(playlist.track_count, 'track')}\towner {playlist.owner_id}")
                if not found:
                    print(f"Server {args.guild} has no playlists.", file=sys.stderr)
                return 0
            export = await service.export(args.guild, args.export)
            names = await display_names(db, args.guild)
            make_folder(args.out)
            m3u, document = args.out / f"{export.stem}.m3u", args.out / f"{export.stem}.json"
            write_output(m3u, to_m3u(export))
            write_output(document, to_json(export, names))
            print(f"{m3u}\n{document}")
            return 0

    return asyncio.run(session())


def _blends(args) -> int:
    """``crate blends``: a server's Blends from the database alone; those not refilled for a day
    (or all, with ``--refresh``) are refilled first, as the bot's daily task does."""
    import asyncio

    from bot.app.blends import BlendService
    from bot.format import plural
    from bot.recommend.service import CatalogCache
    from bot.store import display_names
    from bot.store.blends import blend_ids_in_guild

    async def session() -> int:
        async with open_database(_settings().database_path) as db:
            service = BlendService(db, CatalogCache(db))
            if not args.refresh:  # this server's due Blends only: another server's are its own
                await service.refresh_due(owns=lambda guild_id: guild_id == args.guild)
            ids = await blend_ids_in_guild(db, args.guild)
            names = await display_names(db, args.guild)
            for playlist_id in ids:
                view = await (service.refresh if args.refresh else service.view)(args.guild, playlist_id)
                members = ", ".join(names.get(u, str(u)) for u in view.blend.member_ids)
                match = "not enough ratings" if view.blend.taste_match is None else f"{view.blend.taste_match:.0%}"
                together = view.together.title if view.together else "none yet"
                print(
                    f"{view.name}\t{plural(len(view.tracks), 'track')}\t{members}\tmatch {match}\ttogether: {together}"
                )
            if not ids:
                print(f"Server {args.guild} has no Blends.", file=sys.stderr)
            return 0

    return asyncio.run(session())


def _recap(args) -> int:
    """``crate recap``: the card /recap draws, from the database alone (names as Crate remembers them;
    one it never heard is "member ID")."""
    import asyncio

    from bot.app.recap import Recaps, recap_card
    from bot.app.settings import SettingsService
    from bot.present.recap import recap_card as draw_card
    from bot.recommend.service import CatalogCache
    from bot.store import display_names

    async def session() -> int:
        settings = _settings()
        async with open_database(settings.database_path) as db:
            recaps = Recaps(db, CatalogCache(db), SettingsService(db, settings))
            recap = await recaps.recap(args.guild, args.user, args.period, ended=args.ended)
            # a member whose name Crate never heard (`crate index --user`) is not "a former member"
            names = {user_id: f"member {user_id}" for user_id in recap.named} | await display_names(db, args.guild)
        png, drawn = await asyncio.to_thread(draw_card, recap_card(recap, names, server_name=f"Server {args.guild}"))
        write_output(args.out, png)
        print(f"{args.out}: {drawn.width}x{drawn.height} px" + (" (nothing yet this period)" if recap.is_empty else ""))
        print("\n".join(f"  {line}" for line in drawn.texts))
        return 0

    return asyncio.run(session())


def _map(args) -> int:
    """``crate map``: the server's map from the database alone (no workers, no Discord)."""
    import asyncio

    from bot.app.soundmap import SoundMaps
    from bot.recommend.service import CatalogCache

    async def session() -> int:
        async with open_database(_settings().database_path) as db:
            image = await SoundMaps(CatalogCache(db)).draw(
                args.guild,
                member_id=args.user,
                genre=args.genre,
                track_id=args.track,
                title=f"Server {args.guild} by sound",
            )
        write_output(args.out, image.png)
        placed = image.sound_map
        print(
            f"{args.out}: {placed.shown:,} of {placed.total:,} tracks drawn, {image.drawing.size[0]}x{image.drawing.size[1]} px"
            + (f"; no track here is filed under {placed.family} yet" if placed.family and not placed.in_family else "")
        )
        return 0

    return asyncio.run(session())


def _path(args) -> int:
    """``crate path``: a song path from the database alone (no workers, no Discord)."""
    import asyncio

    from bot.app.sessions import SessionService
    from bot.app.songpath import SongPaths
    from bot.present.reasons import reason_text
    from bot.recommend.service import CatalogCache

    async def session() -> int:
        async with open_database(_settings().database_path) as db:
            catalogs = CatalogCache(db)
            steps = await SongPaths(catalogs, SessionService(db, catalogs)).preview(
                args.guild, args.start, args.end, length=args.length
            )
        for i, step in enumerate(steps, 1):
            reason = reason_text(step.reason, {})
            if args.json:
                record = {
                    "step": i,
                    "track_id": step.track_id,
                    "title": step.title,
                    "genre": step.top_genre,
                    "reason": reason,
                    "closeness_to_end": round(step.closeness_to_end, 6),
                }
                print(json.dumps(record, ensure_ascii=False))
            else:
                print(f"{i}. #{step.track_id} {step.title} — {reason}")
        return 0

    return asyncio.run(session())


if __name__ == "__main__":
    sys.exit(main())
