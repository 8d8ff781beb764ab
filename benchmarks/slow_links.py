"""One member's ten slow links while the others share: are the others still answered in time?

    python benchmarks/slow_links.py [--slow 10] [--others 7] [--deadline SECONDS] [--wait-slow]
                                    [--no-member-limits] [--quick] [-v]

The attack from issue 11: a member ("mallory") sends ``--slow`` ``/genre url:`` links at once to
a site on 127.0.0.1 that drips one byte a second (it never stalls long enough for a per-read
timeout). Half a second later ``--others`` other members, in two servers, share one real track
each (the ``examples/*.ogg`` and 30-s cuts of the Debian music of ``tests/music.py``, as
attachments and links to a fast local site). Everything is real: the bot entry point
(``cogs.client.run_bot``) on the fake Discord, the analysis pool, SQLite, yt-dlp in its download
processes.

Measured: for every other member, the time from sending ``/genre`` to the final answer (target:
every one answered within 30 s); how mallory's links ended (refused at once with "one at a time",
still downloading when the others were done, or later "that site is too slow" with
``--wait-slow``); the event-loop lag p99 over the run.

``--no-member-limits`` lets one member hold every place (member and server limits as large as the
whole capacity): the comparison that shows what the per-member limits are for. ``--quick`` is a
small run (3 slow links, 2 others, a 10-s download deadline, waiting for the slow ones) that the
test suite runs for its outcomes, never its times.

Figures are noisy on a shared machine. Prints a last line ``RESULT {json}``; exits 1 when a target
is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EXAMPLES = ROOT / "examples"
ANSWER_TARGET = 30.0
TICK = 0.010


@dataclass
class Share:
    member: str
    guild: str
    what: str  # "link" or "attachment" or "slow link"
    name: str
    data: bytes = b""
    sent: float | None = None
    finished: float | None = None
    outcome: str = "pending"  # answered / member busy / busy / too slow / still downloading / failure: ...

    @property
    def seconds(self) -> float | None:
        return None if self.sent is None or self.finished is None else self.finished - self.sent


def other_music(scratch: Path, count: int) -> list[tuple[str, bytes]]:
    """``count`` real tracks: the examples, then 30-s cuts of the Debian music."""
    from tests import music

    tracks = [(p.name, p.read_bytes()) for p in sorted(EXAMPLES.glob("*.ogg"))]
    sources = music.singularity_tracks()
    n = 0
    while len(tracks) < count:
        source = sources[n % len(sources)]
        target = scratch / f"cut-{n:02d}.ogg"
        music.convert(source, target, "-ss", str(20 + 5 * n), "-t", "30", "-c:a", "libvorbis", "-q:a", "3")
        tracks.append((target.name, target.read_bytes()))
        n += 1
    return tracks[:count]


async def sites(files: dict[str, bytes], drip_body: bytes):
    """A local site: ``/music/NAME`` fast, ``/drip/N.ogg`` one byte a second."""
    from aiohttp import web

    async def music(request):
        body = files.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="audio/ogg")

    async def drip(request):
        response = web.StreamResponse(headers={"Content-Type": "audio/ogg", "Content-Length": str(len(drip_body))})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the bot gave up on it
            for byte in drip_body:
                await response.write(bytes([byte]))
                await asyncio.sleep(1.0)
        return response

    app = web.Application()
    app.router.add_get("/music/{name}", music)
    app.router.add_get("/drip/{n}.ogg", drip)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


def classify(message) -> str:
    from benchmarks.bot_load import is_busy

    text = message.text
    if message.shown and "█" in text and "%" in text:
        return "answered"
    if "one at a time" in text:
        return "member busy"
    if is_busy(text):
        return "busy"
    if "too slow" in text:
        return "too slow"
    return f"failure: {text[:200]!r}"


async def attack(args: argparse.Namespace) -> dict:
    from benchmarks.bot_load import finished, percentile
    from tests.fakediscord import FakeDiscord
    from tests.fakediscord.builders import make_guild
    from tests.fakediscord.harness import running_crate, settings_for

    others_names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    users: dict = {}
    one = make_guild("Guild One", members=["mallory", *others_names], users=users)
    two = make_guild("Guild Two", members=others_names, users=users)
    with tempfile.TemporaryDirectory(prefix="crate-slow-links-") as tmp:
        scratch = Path(tmp)
        tracks = other_music(scratch, args.others)
        files = dict(tracks)
        shares = [Share("mallory", one.name, "slow link", f"drip/{n}.ogg") for n in range(args.slow)]
        for n, (name, data) in enumerate(tracks):
            guild = (one, two)[n % 2]
            member = others_names[n % len(others_names)]
            shares.append(Share(member, guild.name, "link" if n % 3 == 2 else "attachment", name, data))
        runner, base = await sites(files, tracks[0][1])
        try:
            async with FakeDiscord(guilds=[one, two]) as fake:
                overrides = {}
                if args.deadline is not None:
                    overrides["download_deadline"] = args.deadline
                settings = settings_for(fake, scratch / "crate.sqlite3", **overrides)
                if args.no_member_limits:
                    everyone = settings.workers + settings.queue_depth
                    settings = dataclasses.replace(
                        settings,
                        member_concurrent=everyone,
                        member_queued=0,
                        server_concurrent=everyone,
                        server_queued=0,
                    )
                limits = settings.admission
                print(
                    f"workers={settings.workers} capacity={limits.capacity} per member {limits.member_concurrent}"
                    f"+{limits.member_queued} per server {limits.server_concurrent}+{limits.server_queued} "
                    f"download deadline {settings.download_deadline:g} s"
                )
                async with running_crate(fake, settings):
                    lags: list[float] = []

                    async def ticker() -> None:
                        loop = asyncio.get_running_loop()
                        while True:
                            before = loop.time()
                            await asyncio.sleep(TICK)
                            lags.append(max(0.0, loop.time() - before - TICK))

                    ticking = asyncio.create_task(ticker())

                    async def send(share: Share) -> None:
                        guild = one if share.guild == one.name else two
                        channel = next(c for c in guild.channels if c.name == "music")
                        share.sent = time.monotonic()
                        if share.what == "attachment":
                            ix = await fake.slash(
                                guild,
                                channel,
                                share.member,
                                "genre",
                                attachments={"file": (share.name, share.data, "audio/ogg")},
                            )
                        else:
                            path = share.name if share.what == "slow link" else f"music/{share.name}"
                            ix = await fake.slash(guild, channel, share.member, "genre", {"url": f"{base}/{path}"})
                        try:
                            await ix.wait_response(timeout=30)
                            message = await ix.wait_answer(
                                predicate=finished,
                                timeout=3600,
                            )
                        except Exception as error:
                            share.outcome = f"failure: {type(error).__name__}: {error}"
                        else:
                            share.outcome = classify(message)
                        share.finished = time.monotonic()

                    slow = [s for s in shares if s.what == "slow link"]
                    others = [s for s in shares if s.what != "slow link"]
                    slow_tasks = [asyncio.create_task(send(s)) for s in slow]
                    await asyncio.sleep(0.5)
                    await asyncio.gather(*(send(s) for s in others))
                    for share in slow:
                        if share.outcome == "pending":
                            share.outcome = "still downloading"
                    still = sum(s.outcome == "still downloading" for s in slow)
                    if args.wait_slow:
                        await asyncio.gather(*slow_tasks)
                    ticking.cancel()
        finally:
            await runner.cleanup()

    times = [s.seconds for s in others if s.outcome == "answered" and s.seconds is not None]
    print(f"\n{'member':<10} {'server':<10} {'shared':<12} {'name':<28} {'seconds':>8}  outcome")
    for s in shares:
        seconds = f"{s.seconds:8.1f}" if s.seconds is not None and s.outcome != "still downloading" else "       -"
        print(f"{s.member:<10} {s.guild:<10} {s.what:<12} {s.name[:28]:<28} {seconds}  {s.outcome}")
    counts = {k: sum(s.outcome == k for s in slow) for k in ("member busy", "busy", "too slow", "answered")}
    result = {
        "others": len(others),
        "others_answered": len(times),
        "others_answered_within_target": sum(t <= ANSWER_TARGET for t in times),
        "others_p50_s": round(percentile(times, 50), 2) if times else None,
        "others_max_s": round(max(times), 2) if times else None,
        "others_outcomes": sorted({s.outcome for s in others}),
        "slow": len(slow),
        "slow_refused_at_once": counts["member busy"] + counts["busy"],
        "slow_refused_as_member_busy": counts["member busy"],
        "slow_still_downloading_when_others_done": still,
        "slow_too_slow": counts["too slow"],
        "slow_outcomes": sorted({s.outcome for s in slow}),
        "lag_p99_ms": round(percentile(lags, 99) * 1000, 1) if lags else None,
    }
    print()
    print(
        f"others answered: {len(times)}/{len(others)}, within {ANSWER_TARGET:g} s: "
        f"{result['others_answered_within_target']}, p50 {result['others_p50_s']} s, max {result['others_max_s']} s"
    )
    print(
        f"mallory's {len(slow)} slow links: {result['slow_refused_at_once']} refused at once "
        f"({counts['member busy']} as 'one at a time'), {still} still downloading when the others were done"
        + (f", {counts['too slow']} ended 'that site is too slow'" if args.wait_slow else "")
    )
    print(f"event-loop lag p99: {result['lag_p99_ms']} ms")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=10, help="mallory's slow links")
    parser.add_argument("--others", type=int, default=7, help="other members' shares (one each)")
    parser.add_argument("--deadline", type=float, default=None, help="download deadline (default: Settings')")
    parser.add_argument("--wait-slow", action="store_true", help="also wait until the slow links end")
    parser.add_argument("--no-member-limits", action="store_true", help="comparison: one member may take every place")
    parser.add_argument("--quick", action="store_true", help="3 slow links, 2 others, 10-s deadline, --wait-slow")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the bot at INFO")
    args = parser.parse_args()
    if args.quick:
        args.slow, args.others, args.wait_slow = 3, 2, True
        args.deadline = 10.0 if args.deadline is None else args.deadline
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result = asyncio.run(attack(args))
    print("RESULT " + json.dumps(result))
    ok = result["others_answered"] == result["others"] and result["others_answered_within_target"] == result["others"]
    print(f"{'PASS' if ok else 'FAIL'}  every other member answered within {ANSWER_TARGET:g} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
