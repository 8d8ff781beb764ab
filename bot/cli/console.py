"""``crate console``: Crate's commands in a terminal, on a local SQLite file, without Discord.

The same core methods as the Discord cogs (:class:`bot.app.crate.Crate`) answer here; only the
rendering differs (plain text instead of embeds). ``/as NAME`` switches between listeners so
that group features can be tried alone.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import zlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from bot.app.blends import BlendView, NoBlend, WhichBlend
from bot.app.community import PERIOD_WORDS
from bot.app.crate import Crate
from bot.app.members import FORGET_WHAT, forget_done
from bot.app.playlists import to_json, to_m3u
from bot.app.recap import recap_card
from bot.app.sharing import Source, Stage
from bot.caller import Caller
from bot.catalog import DISLIKE, LIKE, Track
from bot.cli.output import write_output
from bot.errors import CrateError
from bot.format import format_duration, liking, plural
from bot.genres import UNSURE, display_name
from bot.present.describe import bar, genre_bars, short_genre, taught_text, top_tags, track_line, verdict
from bot.present.reasons import reason_text
from bot.present.recap import recap_card as draw_card
from bot.recommend.group import match_text
from bot.recommend.songpath import DEFAULT_LENGTH

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
  /taste NAME                  how your taste matches listener NAME's, with the evidence
  /charts [week|month|all]     the most-liked tracks, families, styles and sharers
  /who TRACK                   who liked TRACK, and whose taste it fits best
  /radio TRACK [COUNT]         what a radio from TRACK would play, each pick following the last
  /blend NAME [NAME...]        a Blend: a playlist for you and up to five listeners, kept fresh
  /blend show|leave [BLEND]    your Blend as it stands (who each track is for), or leave it
  /recap [NAME] [month|year]   the server's (or NAME's) month or year as a card: writes recap.png here
  /map [GENRE]                 this server's music placed by sound, your likes marked: writes map.png here
  /where TRACK                 the map with TRACK pinned (Discord's 📍 button): writes map.png here
  /path FROM TO [LENGTH]       a walk in small steps of sound from track FROM to track TO (quote titles
                               with spaces: /path "Nebula" "By-Product" 6)
  /playlist create|show|delete|export NAME     playlists (export writes NAME.m3u and NAME.json here)
  /playlist add|remove NAME [TRACK]            add (default: your last track) or remove a track
  /settings [KEY VALUE]        this server's settings (keys: stay_in_voice, voice_idle_timeout,
                               analysis_limit, profiles_public, recap; reset: /settings reset all)
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
        #: Where /recap writes its card.
        self.recap_path = Path("recap.png")
        #: Where /map and /where write the picture.
        self.map_path = Path("map.png")

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

        shared = await self.crate.sharing.share(CONSOLE_GUILD, self.user_id, source, progress)
        self.write(self.track_text(shared.track, created=shared.created))
        if shared.heard is not None:
            self.write(f"  heard: {shared.heard.description}")

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
        matches = await self.crate.library.search(CONSOLE_GUILD, text)
        if not matches:
            raise CrateError(f"No track in the catalog matches “{text}”.")
        return matches[0].id

    async def _rate(self, arguments, value: int) -> None:
        rated = await self.crate.library.rate(CONSOLE_GUILD, self.user_id, value, await self._resolve(arguments))
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
        result = await self.crate.recommendations.recommend(CONSOLE_GUILD, self.user_id, count=count, genre=genre)
        if result.catalog_empty:
            self.write(
                "The catalog is empty: share music with /genre PATH-OR-URL, or index a folder with `crate index DIR --guild 1`."
            )
            return
        if result.cold_start:
            self.write(f"{self.user} hasn't liked anything yet, so here is a start (rate these to teach me):")
        self.write(picks_text(result.recommendations, self.names))

    async def _more(self, arguments, confirm) -> None:
        track_id = await self._resolve(arguments)
        if track_id is None:
            self.write("Usage: /more TRACK")
            return
        self.write(
            picks_text(await self.crate.recommendations.more_like(CONSOLE_GUILD, self.user_id, track_id), self.names)
        )

    async def _correct(self, arguments, confirm) -> None:
        track_id = None
        if len(arguments) > 1 and arguments[-1].startswith("#") and arguments[-1][1:].isdigit():
            track_id, arguments = int(arguments[-1][1:]), arguments[:-1]
        if not arguments:
            self.write("Usage: /correct GENRE [#TRACK]   e.g. /correct electronic · /correct city pop #3")
            return
        taught = await self.crate.teaching.correct(CONSOLE_GUILD, self.user_id, track_id, " ".join(arguments))
        self.write(taught_text(taught, markdown=False))

    async def _profile(self, arguments, confirm) -> None:
        summary = await self.crate.taste.profile(CONSOLE_GUILD, self.user_id)
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

    async def _taste(self, arguments, confirm) -> None:
        if not arguments:
            self.write("Usage: /taste NAME")
            return
        other = " ".join(arguments)
        other_id = user_id_of(other)
        self.names.setdefault(other_id, other)
        comparison = await self.crate.taste.compare(CONSOLE_GUILD, self.user_id, other_id)
        self.write(f"{self.user} & {other}: taste match {match_text(comparison.match)}")
        for track in comparison.both_liked:
            self.write(f"  both liked: {track_line(track, markdown=False)}")
        for row in comparison.shared:
            self.write(f"  you share {display_name(row.family)} (you {liking(row.mine)}, them {liking(row.theirs)})")
        for row in comparison.different:
            self.write(
                f"  you differ on {display_name(row.family)} (you {liking(row.mine)}, them {liking(row.theirs)})"
            )
        for pick in comparison.picks:
            self.write(
                f"  for both: #{pick.track_id} {pick.title} [{pick.top_genre}] — {reason_text(pick.reason, self.names)}"
            )

    async def _charts(self, arguments, confirm) -> None:
        period = arguments[0].lower() if arguments else "all"
        if period not in PERIOD_WORDS:
            self.write("Usage: /charts [week|month|all]")
            return
        charts = await self.crate.community.charts(CONSOLE_GUILD, period)
        self.write(f"Charts {PERIOD_WORDS[period]}: {plural(charts.likes, 'like')}")
        for i, entry in enumerate(charts.tracks, 1):
            self.write(f"  {i}. {track_line(entry.track, markdown=False)} · {plural(entry.likes, 'like')}")
        if charts.families:
            self.write("  families (share of likes): " + ", ".join(f"{f} {share:.0%}" for f, share in charts.families))
        if charts.styles:
            self.write("  styles: " + ", ".join(tag for tag, _ in charts.styles))
        for user_id, shared in charts.sharers:
            self.write(f"  {self._name(user_id)} shared {plural(shared, 'track')}")

    async def _who(self, arguments, confirm) -> None:
        track_id = await self._resolve(arguments)
        if track_id is None:
            self.write("Usage: /who TRACK")
            return
        who = await self.crate.community.who_likes(CONSOLE_GUILD, track_id)
        self.write(f"{track_line(who.track, markdown=False)}")
        self.write("  liked by: " + (", ".join(self._name(u) for u in who.likers) or "nobody yet"))
        for user_id, fit in who.fits:
            self.write(f"  {self._name(user_id)}: fits their taste {fit:.0%}")

    def _name(self, user_id: int) -> str:
        return self.names.get(user_id, "a listener")

    @property
    def caller(self) -> Caller:
        """Console listeners run their own console server: each of them manages it."""
        return Caller(self.user_id, manages_server=True)

    async def _radio(self, arguments, confirm) -> None:
        count = 5
        if len(arguments) > 1 and arguments[-1].isdigit():
            count, arguments = max(1, min(25, int(arguments[-1]))), arguments[:-1]
        seed = await self._resolve(arguments)
        if seed is None:
            self.write("Usage: /radio TRACK [COUNT]")
            return
        picks = await self.crate.recommendations.radio_preview(CONSOLE_GUILD, self.user_id, seed, count=count)
        self.write(picks_text(picks, self.names))

    async def _map(self, arguments, confirm) -> None:
        await self._write_map(genre=" ".join(arguments) or None)

    async def _where(self, arguments, confirm) -> None:
        track_id = await self._resolve(arguments)
        if track_id is None:
            self.write("Usage: /where TRACK")
            return
        await self._write_map(track_id=track_id)

    async def _write_map(self, *, genre: str | None = None, track_id: int | None = None) -> None:
        image = await self.crate.maps.draw(
            CONSOLE_GUILD, member_id=self.user_id, member_name=self.user, genre=genre, track_id=track_id
        )
        write_output(self.map_path, image.png)
        placed = image.sound_map
        family = ""
        if placed.family:
            family = (
                f", {placed.family} highlighted"
                if placed.in_family
                else f", no track here is filed under {placed.family} yet"
            )
        self.write(
            f"🗺️ {self.map_path}: {placed.shown:,} of {placed.total:,} tracks by sound"
            + family
            + f"; {self.user}: {plural(image.liked, 'like')}, {plural(image.disliked, 'dislike')}"
            + (f"; 📍 {placed.highlight.title}" if placed.highlight else "")
        )
        if placed.landmarks:
            self.write("  landmarks: " + ", ".join(m.title for m in placed.landmarks))

    async def _path(self, arguments, confirm) -> None:
        length = DEFAULT_LENGTH
        if len(arguments) == 3 and arguments[-1].isdigit():
            length, arguments = int(arguments[-1]), arguments[:-1]
        if len(arguments) != 2:
            self.write('Usage: /path FROM TO [LENGTH]   (quote titles with spaces: /path "Nebula" "By-Product")')
            return
        start, end = await self._resolve([arguments[0]]), await self._resolve([arguments[1]])
        if start is None or end is None:
            return
        steps = await self.crate.paths.preview(CONSOLE_GUILD, start, end, length=length)
        self.write(
            "\n".join(
                f"{i}. #{s.track_id} {s.title} [{short_genre(s.top_genre)}] — {reason_text(s.reason, self.names)}"
                for i, s in enumerate(steps, 1)
            )
        )

    async def _blend(self, arguments, confirm) -> None:
        try:
            await self._blend_command(arguments)
        except NoBlend:  # its sentence names Discord's /blend start member:@someone
            self.write("⚠️ You aren't in any Blend here — start one with /blend NAME [NAME...].")
        except WhichBlend:  # its sentence names Discord's `name` option
            self.write("⚠️ You are in several Blends: say which one, e.g. /blend show BLEND.")

    async def _blend_command(self, arguments) -> None:
        blends = self.crate.blends
        if arguments and arguments[0].lower() in {"show", "leave"}:
            action, name = arguments[0].lower(), " ".join(arguments[1:]) or None
            if action == "leave":
                left = await blends.leave(CONSOLE_GUILD, self.user_id, name)
                rest = ", ".join(self._name(u) for u in left.remaining) or "nobody"
                gone = f" With only {rest} left it is gone: a Blend is for two or more."
                self.write(f"You left {left.playlist.name}." + (gone if left.deleted else f" Refilled for {rest}."))
                return
            view = await blends.show(CONSOLE_GUILD, self.user_id, name)
        elif arguments:
            others = []
            for other in arguments:
                other_id = user_id_of(other)
                self.names.setdefault(other_id, other)
                others.append(other_id)
            view = await blends.create(CONSOLE_GUILD, self.caller, others, names=self.names)
        else:
            self.write("Usage: /blend NAME [NAME...]   or   /blend show|leave [BLEND]")
            return
        self.write(blend_text(view, self.names))

    async def _recap(self, arguments, confirm) -> None:
        kind = "month"
        if arguments and arguments[-1].lower() in {"month", "year"}:
            kind, arguments = arguments[-1].lower(), arguments[:-1]
        user_id = None
        if arguments:
            user_id = user_id_of(" ".join(arguments))
            self.names.setdefault(user_id, " ".join(arguments))
        recap = await self.crate.recaps.recap(CONSOLE_GUILD, user_id, kind, viewer_id=self.user_id)
        png, drawn = await asyncio.to_thread(draw_card, recap_card(recap, self.names, server_name="The console"))
        write_output(self.recap_path, png)
        empty = " (nothing yet this period)" if recap.is_empty else ""
        self.write(f"📼 {self.recap_path} ({drawn.width}x{drawn.height}){empty}:\n  " + "\n  ".join(drawn.texts))

    async def _playlist(self, arguments, confirm) -> None:
        usage = "Usage: /playlist create|add|remove|show|delete|export NAME [TRACK]"
        if not arguments or arguments[0] not in {"create", "add", "remove", "show", "delete", "export"}:
            self.write(usage)
            return
        sub, rest = arguments[0], arguments[1:]
        playlists = self.crate.playlists
        if sub == "show" and not rest:
            found = await playlists.all(CONSOLE_GUILD)
            self.write("\n".join(f"{p.name} ({plural(p.track_count, 'track')})" for p in found) or "No playlists yet.")
            return
        if not rest:
            self.write(usage)
            return
        name, track_words = rest[0], rest[1:]
        if sub == "create":
            self.write(f"Made the playlist {(await playlists.create(CONSOLE_GUILD, self.caller, name)).name}.")
        elif sub == "add":
            added = await playlists.add(CONSOLE_GUILD, self.caller, name, await self._resolve(track_words))
            verb = "Added" if added.added else "Already had"
            self.write(f"{verb} {track_line(added.track, markdown=False)} in {added.playlist.name}.")
        elif sub == "remove":
            track_id = await self._resolve(track_words)
            if track_id is None:
                self.write("Usage: /playlist remove NAME TRACK")
                return
            playlist, track = await playlists.remove(CONSOLE_GUILD, self.caller, name, track_id)
            self.write(f"Removed {track.title} from {playlist.name}.")
        elif sub == "delete":
            self.write(f"Deleted the playlist {(await playlists.delete(CONSOLE_GUILD, self.caller, name)).name}.")
        elif sub == "show":
            playlist, entries = await playlists.entries(CONSOLE_GUILD, name)
            self.write(f"{playlist.name}: {plural(len(entries), 'track')}")
            for e in entries:
                self.write(f"  {e.position}. #{e.track_id} {e.title} [{e.top_genre or '?'}]")
        else:
            export = await playlists.export(CONSOLE_GUILD, name)
            m3u, document = Path(f"{export.stem}.m3u"), Path(f"{export.stem}.json")
            write_output(m3u, to_m3u(export))
            write_output(document, to_json(export, self.names))
            self.write(f"Wrote {m3u} and {document} ({plural(len(export.tracks), 'track')}).")

    async def _settings(self, arguments, confirm) -> None:
        changes: dict = {}
        if len(arguments) == 2:
            key, raw = arguments
            truthy = raw.lower() in {"1", "true", "yes", "on"}
            if key == "reset":
                changes["clear"] = raw
            elif key in {"stay_in_voice", "profiles_public"}:
                changes[key] = truthy
            elif key == "recap":
                changes["recap_monthly"] = truthy
            elif key == "voice_idle_timeout" and raw.replace(".", "", 1).isdigit():
                changes[key] = float(raw)
            elif key == "analysis_limit" and raw.isdigit():
                changes["member_analysis_limit"] = int(raw)
            else:
                self.write("Usage: /settings [stay_in_voice|profiles_public|recap true|false, voice_idle_timeout SECONDS,"
                           " analysis_limit N, reset all]")  # fmt: skip
                return
        elif arguments:
            self.write("Usage: /settings [KEY VALUE]")
            return
        chosen = await (
            self.crate.server_settings.change(CONSOLE_GUILD, self.caller, **changes)
            if changes
            else self.crate.server_settings.get(CONSOLE_GUILD)
        )
        for name, value in chosen.lines():
            self.write(f"  {name}: {value}")

    async def _forget(self, arguments, confirm) -> None:
        self.write(FORGET_WHAT)
        if confirm is not None and not await confirm(f"Forget everything about {self.user}? [y/N] "):
            self.write("Kept everything.")
            return
        report = await self.crate.members.forget(CONSOLE_GUILD, self.user_id)
        self.write(f"{self.user}: {forget_done(report)}")


def blend_text(view: BlendView, names: Mapping[int, str]) -> str:
    """A Blend in plain text: the match, the song that brings them together, who each track is for."""
    members = view.blend.member_ids

    def who(user_ids) -> str:
        if len(members) >= 2 and set(user_ids) >= set(members):
            return "everyone"
        return ", ".join(names.get(u, "a listener") for u in user_ids) or "the group"

    if view.blend.taste_match is None:
        short = ", ".join(f"{names.get(u, 'a listener')}: {plural(n, 'rating')}" for u, n in view.short_of_ratings)
        match = f"taste match: not enough ratings yet ({short})"
    else:
        match = f"taste match {match_text(view.blend.taste_match)}"
    lines = [f"🎶 {view.name} — {', '.join(names.get(u, 'a listener') for u in members)}; {match}"]
    together = view.together
    for track in view.tracks:
        mark = "🤝 the song that brings you together: " if together is not None and track is together else ""
        lines.append(
            f"  {track.position}. {mark}#{track.track_id} {track.title} [{short_genre(track.top_genre)}]"
            f" — for {who(track.for_user_ids)}"
        )
    if not view.tracks:
        lines.append("  Nothing to blend yet: share tracks with /genre and rate them.")
    return "\n".join(lines)


def picks_text(picks, names: Mapping[int, str]) -> str:
    if not picks:
        return "Nothing new to suggest: share more music with /genre."
    return "\n".join(
        f"{i}. #{p.track_id} {p.title} [{short_genre(p.top_genre)}] — {reason_text(p.reason, names)}"
        for i, p in enumerate(picks, 1)
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
