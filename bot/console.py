"""``crate console``: Crate's commands in a terminal, on a local SQLite file, without Discord.

The same core methods as the Discord cogs (:class:`bot.crate.Crate`) answer here; only the
rendering differs (plain text instead of embeds). ``/as NAME`` switches between listeners so
that group features can be tried alone.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.catalog import DISLIKE, LIKE, Track
from bot.crate import Crate, Source, Stage
from bot.describe import bar, genre_bars, short_genre, taught_text, top_tags, track_line, verdict
from bot.errors import CrateError
from bot.format import format_duration, plural
from bot.genres import UNSURE, display_name

#: The console's one "server": its own guild id so that a shared database never mixes it up.
CONSOLE_GUILD = 1
DEFAULT_USER = "you"

HELP = """\
Commands (the same as on Discord):
  /genre PATH-OR-URL           what Crate hears in a file or link; it joins the catalog
  /like [TRACK]                like your last track, or TRACK (id or part of its title)
  /dislike [TRACK]             dislike it (changing your mind replaces the earlier rating)
  /recommend [COUNT] [GENRE]   picks for you, each with a reason (GENRE: a genre or a style tag)
  /more TRACK                  more like that track
  /correct GENRE [#TRACK]      not right? the genre of your last track (or #TRACK): a family or this
                               server's own genre ("city pop"); what you teach relabels similar tracks
  /profile                     your taste summary
  /forget                      delete everything Crate stores about you (asks first)
  /as NAME                     become another listener (to try taste from several people)
  /help, /quit"""

PROGRESS = {Stage.WAITING: "⏳ in the queue…", Stage.DOWNLOADING: "⏬ downloading…", Stage.ANALYZING: "🎧 listening…"}


def user_id_of(name: str) -> int:
    """A stable id per console listener name."""
    return zlib.crc32(name.strip().lower().encode()) or 1


class Console:
    def __init__(self, crate: Crate, *, user: str = DEFAULT_USER, write: Callable[[str], None] = print):
        self.crate = crate
        self.user = user
        self.names: dict[int, str] = {user_id_of(user): user}
        self.write = write

    @property
    def user_id(self) -> int:
        return user_id_of(self.user)

    async def handle(self, line: str, *, confirm: Callable[[str], Awaitable[bool]] | None = None) -> bool:
        """Run one command line; False when the console should stop."""
        try:
            words = shlex.split(line)
        except ValueError as error:
            self.write(f"⚠️ {error}")
            return True
        if not words:
            return True
        command, arguments = words[0].lstrip("/").lower(), words[1:]
        if command in {"quit", "exit", "q"}:
            return False
        handler = getattr(self, f"_{command}", None)
        if handler is None:
            self.write(f"Unknown command /{command}. Type /help.")
            return True
        try:
            await handler(arguments, confirm)
        except CrateError as error:
            self.write(f"⚠️ {error.user_message}")
        return True

    async def _help(self, arguments, confirm) -> None:
        self.write(HELP)

    async def _as(self, arguments, confirm) -> None:
        if not arguments:
            self.write("Usage: /as NAME")
            return
        self.user = " ".join(arguments)
        self.names[self.user_id] = self.user
        self.write(f"You are now {self.user}.")

    async def _genre(self, arguments, confirm) -> None:
        if len(arguments) != 1:
            self.write("Usage: /genre PATH-OR-URL")
            return
        target = arguments[0]
        source = Source.link(target) if "://" in target else Source.file(Path(target).expanduser())

        async def progress(stage: Stage) -> None:
            self.write(PROGRESS[stage])

        shared = await self.crate.share(CONSOLE_GUILD, self.user_id, source, progress)
        self.write(self.track_text(shared.track, created=shared.created))

    def track_text(self, track: Track, *, created: bool = True) -> str:
        lines = [
            f"#{track.id} {track.title}  ({format_duration(track.duration)}"
            + (f", ~{track.tempo:.0f} BPM)" if track.tempo else ")"),
            f"  {verdict(track.genres, track.confident)}",
        ]
        lines += [f"  {row}" for row in genre_bars(track.genres)]
        tags = top_tags(track)
        lines.append(f"  sounds like: {', '.join(tags) if tags else 'nothing distinctive'}")
        if not created:
            lines.append("  (already in the catalog: same audio)")
        return "\n".join(lines)

    async def _resolve(self, arguments) -> int | None:
        """A track id from an id or a title fragment; None means 'the last one'."""
        if not arguments:
            return None
        text = " ".join(arguments)
        if text.lstrip("#").isdigit():
            return int(text.lstrip("#"))
        matches = await self.crate.search(CONSOLE_GUILD, text)
        if not matches:
            raise CrateError(f"No track in the catalog matches “{text}”.")
        return matches[0].id

    async def _rate(self, arguments, value: int) -> None:
        rated = await self.crate.rate(CONSOLE_GUILD, self.user_id, value, await self._resolve(arguments))
        verb = "liked" if value == LIKE else "disliked"
        note = " (replaces your earlier rating)" if rated.previous not in (None, value) else ""
        self.write(
            f"{'👍' if value == LIKE else '👎'} {self.user} {verb} {track_line(rated.track, markdown=False)}{note}"
        )

    async def _like(self, arguments, confirm) -> None:
        await self._rate(arguments, LIKE)

    async def _dislike(self, arguments, confirm) -> None:
        await self._rate(arguments, DISLIKE)

    async def _recommend(self, arguments, confirm) -> None:
        count, genre = 5, None
        if arguments and arguments[0].isdigit():
            count, arguments = max(1, min(10, int(arguments[0]))), arguments[1:]
        if arguments:
            genre = " ".join(arguments)
        result = await self.crate.recommend(CONSOLE_GUILD, self.user_id, count=count, genre=genre, names=self.names)
        if result.catalog_empty:
            self.write(
                "The catalog is empty: share music with /genre PATH-OR-URL, or index a folder with `crate index DIR --guild 1`."
            )
            return
        if result.cold_start:
            self.write(f"{self.user} hasn't liked anything yet, so here is a start (rate these to teach me):")
        self.write(picks_text(result.recommendations))

    async def _more(self, arguments, confirm) -> None:
        track_id = await self._resolve(arguments)
        if track_id is None:
            self.write("Usage: /more TRACK")
            return
        self.write(picks_text(await self.crate.more_like(CONSOLE_GUILD, self.user_id, track_id, names=self.names)))

    async def _correct(self, arguments, confirm) -> None:
        track_id = None
        if len(arguments) > 1 and arguments[-1].startswith("#") and arguments[-1][1:].isdigit():
            track_id, arguments = int(arguments[-1][1:]), arguments[:-1]
        if not arguments:
            self.write("Usage: /correct GENRE [#TRACK]   e.g. /correct electronic · /correct city pop #3")
            return
        taught = await self.crate.correct(CONSOLE_GUILD, self.user_id, " ".join(arguments), track_id)
        self.write(taught_text(taught, markdown=False))

    async def _profile(self, arguments, confirm) -> None:
        summary = await self.crate.profile(CONSOLE_GUILD, self.user_id)
        self.write(
            f"{self.user}: {plural(summary.likes, 'like')}, {plural(summary.dislikes, 'dislike')},"
            f" {summary.shares} shared"
        )
        if summary.genres:
            self.write(f"  {summary.headline}")
        for genre, affinity in summary.genres:
            unsure = f" ({UNSURE})" if genre in summary.unsure else ""
            self.write(f"  {display_name(genre):<16} {bar(affinity)} {affinity:4.0%}{unsure}")
        for i, track in enumerate(summary.favourites, 1):
            self.write(f"  {i}. {track_line(track, markdown=False)}")

    async def _forget(self, arguments, confirm) -> None:
        if confirm is not None and not await confirm(f"Forget everything about {self.user}? [y/N] "):
            self.write("Kept everything.")
            return
        report = await self.crate.forget(CONSOLE_GUILD, self.user_id)
        self.write(
            f"Forgot {self.user}: {plural(report.ratings, 'rating')}, {plural(report.shares, 'share')}, "
            f"{plural(report.corrections, 'genre correction')}, {plural(report.tracks_removed, 'track')} nobody else had."
        )


def picks_text(picks) -> str:
    if not picks:
        return "Nothing new to suggest: share more music with /genre."
    return "\n".join(
        f"{i}. #{p.track_id} {p.title} [{short_genre(p.top_genre)}] — {p.reason}" for i, p in enumerate(picks, 1)
    )


async def run_console(crate: Crate, *, user: str = DEFAULT_USER, lines=None, echo: bool = False) -> None:
    """Read commands from ``lines`` (default: the terminal) until /quit or end of input."""
    console = Console(crate, user=user)
    interactive = lines is None and sys.stdin.isatty()

    async def ask(prompt: str) -> bool:
        if not interactive:
            return True  # a script that says /forget means it
        answer = await asyncio.to_thread(input, prompt)
        return answer.strip().lower() in {"y", "yes"}

    if interactive:
        console.write("Crate console — the commands of Discord except /session. Type /help, or /quit to leave.")
    source = iter(lines) if lines is not None else None
    while True:
        if source is not None:
            line = next(source, None)
        else:
            try:
                line = await asyncio.to_thread(input, f"{console.user}> " if interactive else "")
            except EOFError:
                line = None
        if line is None:
            return
        if echo and line.strip() and not line.lstrip().startswith("#"):
            console.write(f"{console.user}> {line.strip()}")
        if line.lstrip().startswith("#"):
            continue
        if not await console.handle(line, confirm=ask):
            return
