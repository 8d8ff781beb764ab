"""End-to-end tests of tests/fakediscord with a real (minimal) discord.py bot.

The bot below is ordinary discord.py code; the only test-specific line is
``point_discord_at(...)`` (done by the ``fake`` fixture), which is exactly what
Crate does when DISCORD_API_BASE / DISCORD_GATEWAY_URL are set.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakediscord import EPHEMERAL, FakeDiscord, point_discord_at

TOKEN = "fake.bot.token"
TRACKS = ["Awake", "Awaken the Giant", "Away From Home", "Bloom", "Karma Police"]


def tiny_png(width: int = 2, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- the bot under test
class ReplayButton(discord.ui.DynamicItem[discord.ui.Button], template=r"replay:(?P<track>\d+)"):
    """Persistent button: survives restarts because the state lives in the custom_id."""

    def __init__(self, track: int) -> None:
        super().__init__(
            discord.ui.Button(label="Replay", style=discord.ButtonStyle.primary, custom_id=f"replay:{track}")
        )
        self.track = track

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /):
        return cls(int(match["track"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"replaying track {self.track}", ephemeral=True)


class PingView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(ReplayButton(42))

    @discord.ui.button(label="Again", custom_id="ping:again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content=f"clicked by {interaction.user.name}", view=self)

    @discord.ui.select(
        custom_id="ping:mood", options=[discord.SelectOption(label=m, value=m) for m in ("calm", "loud")]
    )
    async def mood(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"mood={select.values[0]}", ephemeral=True)


session = app_commands.Group(name="session", description="Listening sessions")


@session.command(name="start", description="Start a session")
async def session_start(interaction: discord.Interaction, name: str, rounds: int = 3) -> None:
    await interaction.response.send_message(f"session {name} x{rounds} started")


@session.command(name="stop", description="Stop the session")
async def session_stop(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("stopped")


class MiniBot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())
        self.guild_id = guild_id

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReplayButton)
        tree = self.tree

        @tree.command(description="Latency check")
        async def ping(interaction: discord.Interaction) -> None:
            embed = discord.Embed(title="Pong!", description="crate is alive", colour=0x1ABC9C)
            await interaction.response.send_message(embed=embed, view=PingView())

        @tree.command(description="Render a chart (slow)")
        async def chart(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await asyncio.sleep(0.05)
            embed = discord.Embed(title="Chart").set_image(url="attachment://chart.png")
            await interaction.edit_original_response(
                embed=embed, attachments=[discord.File(io.BytesIO(tiny_png()), filename="chart.png")]
            )
            await interaction.followup.send("more to come", ephemeral=True)

        @tree.command(description="Like a track")
        @app_commands.describe(track="Track title")
        async def like(interaction: discord.Interaction, track: str) -> None:
            await interaction.response.send_message(f"liked {track}")

        @like.autocomplete("track")
        async def like_track(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=t, value=t) for t in TRACKS if t.lower().startswith(current.lower())][:25]

        @tree.command(description="A private answer")
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("only you can see this", ephemeral=True)

        @tree.command(description="Post into the channel")
        async def say(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message("posting", ephemeral=True)
            await interaction.channel.send(text)  # type: ignore[union-attr]

        @tree.command(description="A public defer, then follow-ups that ask to be private")
        async def oops(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            await interaction.followup.send("first", ephemeral=True)
            await interaction.followup.send("second", ephemeral=True)

        @tree.command(description="Inspect an upload")
        async def genre(interaction: discord.Interaction, file: discord.Attachment) -> None:
            await interaction.response.defer()
            data = await file.read()
            await interaction.followup.send(f"{file.filename}: {len(data)} bytes, {data[:4]!r}")

        tree.add_command(session)
        guild = discord.Object(self.guild_id)
        tree.copy_global_to(guild=guild)
        await tree.sync(guild=guild)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput = discord.ui.TextInput(label="What do you think?", custom_id="feedback:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class ExtrasBot(MiniBot):
    """More discord.py surface: modals, DMs, fetches, follow-up edits, channel files, global sync."""

    async def setup_hook(self) -> None:
        tree = self.tree

        @tree.command(description="Open a modal")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal())

        @tree.command(description="Everything else")
        async def misc(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            msg = await interaction.followup.send("step 1", file=discord.File(io.BytesIO(b"abc"), "a.txt"), wait=True)
            await msg.edit(content="step 2")
            orig = await interaction.original_response()
            assert orig.id == msg.id
            user = await self.fetch_user(interaction.user.id)
            await user.send("psst")  # DM
            channel = await self.fetch_channel(interaction.channel_id)  # type: ignore[arg-type]
            member = await interaction.guild.fetch_member(interaction.user.id)  # type: ignore[union-attr]
            posted = await channel.send(f"hello {member.name}", file=discord.File(io.BytesIO(tiny_png()), "p.png"))  # type: ignore[union-attr]
            await posted.add_reaction("\N{THUMBS UP SIGN}")
            await posted.edit(content="hello again")
            async with channel.typing():  # type: ignore[union-attr]
                pass
            second = await interaction.followup.send("bye", wait=True)
            await second.delete()

        await tree.sync()  # global


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord(token=TOKEN) as fd:
        point_discord_at(fd.api_base, fd.gateway_url)
        try:
            yield fd
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
        assert fd.unknown_requests == [], f"bot used routes the fake doesn't know: {fd.unknown_requests}"


@contextlib.asynccontextmanager
async def running_bot(fd: FakeDiscord, *, count: int = 1, cls: type[MiniBot] | None = None) -> AsyncIterator[MiniBot]:
    bot = (cls or MiniBot)(fd.guilds[0].id)
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        done, _ = await asyncio.wait(
            [task, asyncio.ensure_future(fd.wait_ready(count=count))], return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()  # re-raise the bot's startup error
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[MiniBot]:
    async with running_bot(fake) as b:
        await fake.wait_commands_synced(guild_id=fake.guilds[0])
        yield b


async def eventually(check: Any, timeout: float = 2.0) -> None:
    """For bot-side state (the fake's own state has wait_* helpers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- tests
async def test_startup_registers_guild_commands(fake: FakeDiscord, bot: MiniBot) -> None:
    g = fake.guilds[0]
    names = sorted(c["name"] for c in fake.commands(g))
    assert names == ["chart", "genre", "like", "oops", "ping", "say", "secret", "session"]
    sess = next(c for c in fake.commands(g) if c["name"] == "session")
    assert [o["name"] for o in sess["options"]] == ["start", "stop"]
    assert fake.commands() == []  # nothing global
    s = fake.sessions[-1]
    assert s.compress == "zlib-stream" and s.intents == discord.Intents.default().value
    assert bot.get_guild(g.id) is not None and bot.get_guild(g.id).get_channel(g.channel("Lounge").id) is not None
    assert bot.application_id == fake.application_id and bot.user.id == fake.bot_user.id


async def test_ping_embed_button_and_click(fake: FakeDiscord, bot: MiniBot) -> None:
    ix = await fake.slash("Guild One", "general", "alice", "ping")
    resp = await ix.wait_response()
    assert resp.type == 4 and ix.ack_latency is not None and ix.ack_latency < 3
    msg = await ix.wait_original()
    assert msg.embed["title"] == "Pong!" and msg.embed["description"] == "crate is alive"
    assert sorted(msg.custom_ids) == ["ping:again", "ping:mood", "replay:42"]
    assert not msg.ephemeral
    assert msg in fake.channel_messages("general", "Guild One")

    click = await fake.click("Guild One", "general", "bob", msg, "ping:again")
    assert (await click.wait_response()).type == 7
    edited = await click.wait_original(lambda m: "clicked" in m.content)
    assert edited.id == msg.id and edited.content == "clicked by bob" and edited.edits == 1

    sel = await fake.select("Guild One", "general", "carol", msg, "ping:mood", ["loud"])
    reply = await sel.wait_original()
    assert reply.content == "mood=loud" and reply.flags & EPHEMERAL

    dyn = await fake.click("Guild One", "general", "alice", msg, "replay:42")
    assert (await dyn.wait_original()).content == "replaying track 42"


async def test_defer_then_edit_with_png_and_followup(fake: FakeDiscord, bot: MiniBot) -> None:
    ix = await fake.slash("Guild One", "music", "bob", "chart")
    assert (await ix.wait_response()).type == 5
    msg = await ix.wait_original(lambda m: bool(m.attachments))
    assert msg.filenames == ["chart.png"]
    att = msg.attachment("chart.png")
    assert att.data == tiny_png() and (att.width, att.height) == (2, 1)
    assert msg.embed["image"]["url"] == att.url  # attachment:// rewritten like Discord does
    assert not msg.loading and msg.history[0]["flags"] & (1 << 7)  # was "thinking" before the edit
    async with aiohttp.ClientSession() as http:  # served by the fake CDN
        async with http.get(att.url) as r:
            assert r.status == 200 and await r.read() == tiny_png()
    (follow,) = await ix.wait_followups(1)
    assert follow.content == "more to come" and follow.ephemeral and follow.id != msg.id


async def test_autocomplete_ephemeral_subcommands(fake: FakeDiscord, bot: MiniBot) -> None:
    choices = await fake.autocomplete("Guild One", "general", "alice", "like", focused="track", value="awak")
    assert [c["value"] for c in choices] == ["Awake", "Awaken the Giant"]

    ix = await fake.slash("Guild One", "general", "alice", "like", {"track": "Bloom"})
    assert (await ix.wait_original()).content == "liked Bloom"

    ix = await fake.slash("Guild One", "general", "carol", "secret")
    resp = await ix.wait_response()
    assert resp.ephemeral and resp.data["flags"] & EPHEMERAL == 64
    assert (await ix.wait_original()).ephemeral
    assert ix.original not in fake.channel_messages("general", "Guild One")  # ephemeral messages are hidden by default

    ix = await fake.slash("Guild One", "general", "bob", "session start", {"name": "friday", "rounds": 5})
    assert (await ix.wait_original()).content == "session friday x5 started"
    with pytest.raises(ValueError, match="no option"):
        await fake.slash("Guild One", "general", "bob", "session start", {"nmae": "typo"})
    with pytest.raises(ValueError, match="is a group"):
        await fake.slash("Guild One", "general", "bob", "session")


async def test_channel_message_and_attachment_option(fake: FakeDiscord, bot: MiniBot) -> None:
    ix = await fake.slash("Guild One", "music", "alice", "say", {"text": "now playing: Bloom"})
    posted = await fake.wait_channel_message("music", lambda m: m.interaction_id is None, guild="Guild One")
    assert posted.content == "now playing: Bloom" and posted.author.id == fake.bot_user.id
    assert ix.original is not None and ix.original.ephemeral

    ogg = b"OggS" + bytes(100)
    ix = await fake.slash("Guild One", "general", "bob", "genre", attachments={"file": ("song.ogg", ogg, "audio/ogg")})
    att_payload = next(iter(ix.payload["data"]["resolved"]["attachments"].values()))
    assert att_payload["filename"] == "song.ogg" and att_payload["size"] == 104
    final = await ix.wait_original()
    assert final.content == "song.ogg: 104 bytes, b'OggS'"


async def test_dynamic_item_after_client_restart(fake: FakeDiscord) -> None:
    async with running_bot(fake):
        await fake.wait_commands_synced(guild_id=fake.guilds[0])
        ix = await fake.slash("Guild One", "general", "alice", "ping")
        old = await ix.wait_original()
    await fake.wait_disconnected()

    async with running_bot(fake, count=2):  # a brand-new client with the same token
        click = await fake.click("Guild One", "general", "carol", old, "replay:42")
        assert (await click.wait_original()).content == "replaying track 42"
        assert click.ack_latency is not None and click.ack_latency < 3
        # the non-persistent View button is gone with the old process: Discord would show "interaction failed"
        stale = await fake.click("Guild One", "general", "carol", old, "ping:again")
        await asyncio.sleep(0.3)
        assert stale.response is None
    assert len(fake.sessions) == 2 and fake.sessions[0].session_id != fake.sessions[1].session_id


async def test_resume_after_drop_and_gateway_events(fake: FakeDiscord, bot: MiniBot) -> None:
    seen: list[discord.Message] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    bot.add_listener(on_message)
    g = fake.guilds[0]

    await fake.drop_connections()  # close 4000 -> discord.py RESUMEs on resume_gateway_url
    session = await fake.wait_resumed()
    assert session is fake.sessions[0] and len(fake.sessions) == 1
    await fake.drop_connections(reconnect_op=True)  # op 7 RECONNECT
    await fake.wait_resumed(count=2)

    ix = await fake.slash(g, g.channel("general"), g.member("alice"), "session stop")
    assert (await ix.wait_original()).content == "stopped"

    await fake.send_user_message(g, "general", "bob", "hi bot")
    await fake.set_voice_state(g, "carol", "Lounge")
    lounge = bot.get_channel(g.channel("Lounge").id)
    assert isinstance(lounge, discord.VoiceChannel)
    await eventually(lambda: len(seen) == 1 and [m.name for m in lounge.members] == ["carol"])
    assert seen[0].author.name == "bob" and seen[0].channel.name == "general"


async def test_more_discord_py_surface(fake: FakeDiscord) -> None:
    async with running_bot(fake, cls=ExtrasBot):
        cmds = await fake.wait_commands_synced()
        assert sorted(c["name"] for c in cmds) == ["feedback", "misc"] and "guild_id" not in cmds[0]

        ix = await fake.slash("Guild Two", "general", "bob", "feedback")
        modal = (await ix.wait_response()).data
        assert ix.response.type == 9 and modal["title"] == "Feedback"
        sub = await fake.submit_modal("Guild Two", "general", "bob", ix, {"feedback:text": "great"})
        assert (await sub.wait_original()).content == "thanks: great"

        ix = await fake.slash("Guild Two", "music", "carol", "misc")
        first, second = await ix.wait_followups(2)
        assert (
            first.id == ix.original_id
            and first.ephemeral
            and first.content == "step 2"
            and first.filenames == ["a.txt"]
        )
        await fake.state.notifier.wait_until(lambda: second.deleted, 5, lambda: "the 'bye' follow-up to be deleted")
        posted = await fake.wait_channel_message(fake.guilds[1].channel("music"), lambda m: m.content == "hello again")
        assert posted.filenames == ["p.png"] and posted.reactions == ["\N{THUMBS UP SIGN}"]
        carol = fake.member("Guild Two", "carol")
        dm = fake.channel_messages(fake.state.dm_channels[carol.id])
        assert [m.content for m in dm] == ["psst"]


async def test_late_ack_is_rejected_like_discord(fake: FakeDiscord, bot: MiniBot) -> None:
    fake.ack_deadline = 0.0  # every callback is "too late"
    ix = await fake.slash("Guild One", "general", "alice", "secret")
    await fake.state.notifier.wait_until(lambda: fake.late_acks, 5, lambda: "a late ack")
    assert ix.response is None and fake.late_acks == [ix]


async def test_raw_protocol_zlib_resume_and_errors(fake: FakeDiscord) -> None:
    """Speak the protocol by hand: zlib-stream framing, READY shape, RESUME, 404 error shape."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_base}/nope") as r:
            assert r.status == 404 and await r.json() == {"message": "404: Not Found", "code": 0}
        fake.unknown_requests.clear()
        async with http.get(f"{fake.api_base}/users/@me") as r:
            assert r.status == 401
        async with http.get(f"{fake.api_base}/gateway") as r:
            assert (await r.json())["url"] == fake.gateway_url

        inflate = zlib.decompressobj()

        async def recv(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
            msg = await ws.receive_bytes(timeout=5)
            assert msg.endswith(b"\x00\x00\xff\xff")
            return json.loads(inflate.decompress(msg))

        url = yarl.URL(fake.gateway_url).with_query(v=10, encoding="json", compress="zlib-stream")
        async with http.ws_connect(url) as ws:
            assert (await recv(ws))["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 513, "properties": {}}})
            ready = await recv(ws)
            assert ready["t"] == "READY" and ready["d"]["resume_gateway_url"] == fake.gateway_url
            assert ready["d"]["application"]["id"] == str(fake.application_id)
            creates = [await recv(ws) for _ in fake.guilds]
            assert [c["t"] for c in creates] == ["GUILD_CREATE", "GUILD_CREATE"]
            g = creates[0]["d"]
            assert {c["name"] for c in g["channels"]} >= {"general", "music", "Lounge"}
            # no GUILD_MEMBERS intent (513 = guilds + guild messages): only the bot is in the member list
            assert {m["user"]["username"] for m in g["members"]} == {"Crate"} and g["member_count"] == 4
            await ws.send_json({"op": 1, "d": 2})
            assert (await recv(ws))["op"] == 11
            session_id = ready["d"]["session_id"]
        await fake.wait_disconnected()

        async with http.ws_connect(yarl.URL(fake.gateway_url).with_query(v=10, encoding="json")) as ws:
            assert json.loads(await ws.receive_str(timeout=5))["op"] == 10
            await ws.send_json({"op": 6, "d": {"token": TOKEN, "session_id": session_id, "seq": 1}})
            replay = [json.loads(await ws.receive_str(timeout=5)) for _ in range(3)]
            assert [m["t"] for m in replay] == ["GUILD_CREATE", "GUILD_CREATE", "RESUMED"]


# --------------------------------------------------------------------------- Discord's stricter rules
async def _identify_raw(fake: FakeDiscord, intents: int) -> list[dict[str, Any]]:
    """IDENTIFY by hand and return the GUILD_CREATE payloads."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(yarl.URL(fake.gateway_url).with_query(v=10, encoding="json")) as ws:
            assert json.loads(await ws.receive_str(timeout=5))["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": intents, "properties": {}}})
            assert json.loads(await ws.receive_str(timeout=5))["t"] == "READY"
            return [json.loads(await ws.receive_str(timeout=5))["d"] for _ in fake.guilds]


async def test_guild_create_lists_members_only_with_the_members_intent(fake: FakeDiscord) -> None:
    fake.member("Guild One", "carol").voice_channel_id = fake.guilds[0].channel("Lounge").id
    without = await _identify_raw(fake, 513)
    assert {m["user"]["username"] for m in without[0]["members"]} == {"Crate", "carol"}  # the bot + voice
    assert {m["user"]["username"] for m in without[1]["members"]} == {"Crate"}
    with_intent = await _identify_raw(fake, 513 | 2)
    assert {m["user"]["username"] for m in with_intent[0]["members"]} == {"alice", "bob", "carol", "Crate"}


async def test_bot_without_members_intent_caches_only_itself(fake: FakeDiscord, bot: MiniBot) -> None:
    guild = bot.get_guild(fake.guilds[0].id)
    assert [m.name for m in guild.members] == ["Crate"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as http:
        async with http.get(f"{fake.api_base}/guilds/{guild.id}/members") as r:
            assert r.status == 403 and (await r.json())["code"] == 50001


async def test_first_followup_after_public_defer_is_public(fake: FakeDiscord, bot: MiniBot) -> None:
    ix = await fake.slash("Guild One", "general", "alice", "oops")
    first, second = await ix.wait_followups(2)
    assert first.id == ix.original_id and first.content == "first" and not first.ephemeral  # flag ignored
    assert second.content == "second" and second.ephemeral and second.id != first.id


async def test_cdn_links_are_signed_expire_and_can_be_refreshed(fake: FakeDiscord, bot: MiniBot) -> None:
    ix = await fake.slash("Guild One", "music", "bob", "chart")
    msg = await ix.wait_original(lambda m: bool(m.attachments))
    att = msg.attachment("chart.png")
    old = att.url
    assert set(yarl.URL(old).query) == {"ex", "is", "hm"}
    auth = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(old) as r:
            assert r.status == 200 and await r.read() == tiny_png()
        async with http.get(att.path_url) as r:  # unsigned
            assert r.status == 404
        tampered = str(yarl.URL(old).update_query(ex=format(int(fake.clock.now()) + 10**6, "x")))
        async with http.get(tampered) as r:
            assert r.status == 404
        fake.clock.advance(25 * 3600)
        async with http.get(old) as r:  # a day later the link is dead
            assert r.status == 404
        async with http.get(f"{fake.api_base}/channels/{msg.channel_id}/messages/{msg.id}", headers=auth) as r:
            fresh = (await r.json())["attachments"][0]["url"]
        assert fresh != old
        async with http.get(fresh) as r:
            assert r.status == 200
        async with http.post(
            f"{fake.api_base}/attachments/refresh-urls", json={"attachment_urls": [old]}, headers=auth
        ) as r:
            (entry,) = (await r.json())["refreshed_urls"]
        assert entry["original"] == old
        async with http.get(entry["refreshed"]) as r:
            assert r.status == 200 and await r.read() == tiny_png()
    assert len(fake.expired_cdn_requests) == 3


async def test_interaction_tokens_expire_after_15_minutes(fake: FakeDiscord, bot: MiniBot) -> None:
    ix = await fake.slash("Guild One", "general", "carol", "secret")
    await ix.wait_original()
    url = f"{fake.api_base}/webhooks/{fake.application_id}/{ix.token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"content": "still here"}) as r:
            assert r.status == 204
        fake.clock.advance(15 * 60 + 1)
        async with http.post(url, json={"content": "too late"}) as r:
            assert r.status == 404 and (await r.json())["code"] == 10015
        async with http.patch(f"{url}/messages/@original", json={"content": "edit"}) as r:
            assert r.status == 404
    assert [m.content for m in ix.followups] == ["still here"] and fake.expired_tokens == [ix, ix]


async def test_a_route_can_answer_429_with_retry_after(fake: FakeDiscord, bot: MiniBot) -> None:
    fake.rate_limit("POST", r"/channels/\d+/messages", retry_after=0.05)
    await fake.slash("Guild One", "music", "alice", "say", {"text": "after a wait"})
    posted = await fake.wait_channel_message("music", lambda m: m.content == "after a wait", guild="Guild One")
    music = fake.guilds[0].channel("music").id
    assert fake.rate_limited == [f"POST /channels/{music}/messages"] and posted.author.id == fake.bot_user.id
    fake.rate_limit("GET", r"/gateway", retry_after=1.5, is_global=True)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_base}/gateway") as r:
            assert r.status == 429 and r.headers["Via"]
            assert await r.json() == {"message": "You are being rate limited.", "retry_after": 1.5, "global": True}
        async with http.get(f"{fake.api_base}/gateway") as r:  # one time only
            assert r.status == 200


# --------------------------------------------------------------------------- components and modals: Discord's limits


class LongTitleModal(discord.ui.Modal, title="A title that is much longer than forty-five characters"):
    text: discord.ui.TextInput = discord.ui.TextInput(label="Name", custom_id="limits:text")


class ShortModal(discord.ui.Modal, title="Name it"):
    text: discord.ui.TextInput = discord.ui.TextInput(
        label="Name", custom_id="limits:name", min_length=2, max_length=10
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_modal(ShortModal())  # a modal can't answer a modal
        except discord.HTTPException as error:
            await interaction.response.send_message(f"refused {error.status} {error.code}", ephemeral=True)


class LimitsBot(MiniBot):
    """Sends what Discord refuses, and reports the refusals."""

    async def setup_hook(self) -> None:
        tree = self.tree

        @tree.command(description="Too long a modal title")
        async def longmodal(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_modal(LongTitleModal())
            except discord.HTTPException as error:
                self.refusals.append((error.status, error.code))

        @tree.command(description="A fine modal")
        async def shortmodal(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(ShortModal())

        @tree.command(description="A select with 26 options")
        async def bigselect(interaction: discord.Interaction) -> None:
            view = discord.ui.View()
            options = [discord.SelectOption(label=f"o{i}", value=str(i)) for i in range(26)]
            select: discord.ui.Select = discord.ui.Select(custom_id="limits:select", options=options[:25])
            select._underlying.options.append(options[25])  # discord.py itself stops at 25: bypass it
            view.add_item(select)
            try:
                await interaction.response.send_message("pick", view=view)
            except discord.HTTPException as error:
                self.refusals.append((error.status, error.code))

        await tree.sync()

    refusals: ClassVar[list[tuple[int, int]]] = []


async def test_discord_limits_on_modals_and_selects(fake: FakeDiscord) -> None:
    LimitsBot.refusals = []
    async with running_bot(fake, cls=LimitsBot):
        await fake.wait_commands_synced()
        await fake.slash("Guild One", "general", "alice", "longmodal")
        await fake.slash("Guild One", "general", "alice", "bigselect")
        await eventually(lambda: len(LimitsBot.refusals) == 2)
        assert LimitsBot.refusals == [(400, 50035), (400, 50035)]

        ix = await fake.slash("Guild One", "general", "bob", "shortmodal")
        assert (await ix.wait_response()).type == 9
        with pytest.raises(ValueError, match="required"):
            await fake.submit_modal("Guild One", "general", "bob", ix, {"limits:name": ""})
        with pytest.raises(ValueError, match="2-10 characters"):
            await fake.submit_modal("Guild One", "general", "bob", ix, {"limits:name": "x" * 11})
        sub = await fake.submit_modal("Guild One", "general", "bob", ix, {"limits:name": "fine"})
        assert (await sub.wait_original()).content == "refused 400 50035"


class MenuBot(MiniBot):
    """Context menus (USER and MESSAGE commands) and an on_message listener, without privileged intents."""

    async def setup_hook(self) -> None:
        self.seen: list[discord.Message] = []
        tree = self.tree

        @tree.context_menu(name="Count files")
        async def count_files(interaction: discord.Interaction, message: discord.Message) -> None:
            names = ",".join(a.filename for a in message.attachments)
            await interaction.response.send_message(
                f"{message.author.name}: {message.content!r} [{names}]", ephemeral=True
            )

        @tree.context_menu(name="Wave at")
        async def wave(interaction: discord.Interaction, member: discord.Member) -> None:
            await interaction.response.send_message(f"{interaction.user.name} waves at {member.display_name}")

        @tree.command(description="Latency check")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        guild = discord.Object(self.guild_id)
        tree.copy_global_to(guild=guild)
        await tree.sync(guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)


async def test_context_menus_carry_their_target_and_the_gateway_hides_message_content(fake: FakeDiscord) -> None:
    async with running_bot(fake, cls=MenuBot) as bot:
        commands_ = await fake.wait_commands_synced(guild_id=fake.guilds[0])
        assert sorted((c["name"], c["type"]) for c in commands_) == [("Count files", 3), ("Wave at", 2), ("ping", 1)]
        assert all("options" not in c or not c["options"] for c in commands_ if c["type"] != 1)
        g = fake.guilds[0]
        posted = await fake.send_user_message(
            g, "general", "bob", "listen https://example.com/a.ogg", attachments=[("a.ogg", b"OggS", "audio/ogg")]
        )
        await eventually(lambda: len(bot.seen) == 1)
        # without the MESSAGE_CONTENT intent the gateway event is empty...
        assert bot.seen[0].content == "" and bot.seen[0].attachments == [] and bot.seen[0].author.name == "bob"
        assert posted.content.startswith("listen") and posted.filenames == ["a.ogg"]  # ...the message is not
        # ...but the message command's interaction carries the whole message
        ix = await fake.context_menu(g, "general", "alice", "Count files", posted)
        assert ix.payload["data"]["type"] == 3 and ix.payload["data"]["target_id"] == str(posted.id)
        reply = await ix.wait_original()
        assert reply.ephemeral and reply.content == "bob: 'listen https://example.com/a.ogg' [a.ogg]"

        ix = await fake.context_menu(g, "general", "alice", "Wave at", "carol")
        data = ix.payload["data"]
        carol = fake.member(g, "carol")
        assert data["type"] == 2 and data["target_id"] == str(carol.id) and str(carol.id) in data["resolved"]["members"]
        assert (await ix.wait_original()).content == "alice waves at Carol"

        with pytest.raises(KeyError, match="menu 'Wave at'"):
            await fake.context_menu(g, "general", "alice", "Wave at", posted)  # a user menu, not a message menu


async def test_bulk_overwrite_refuses_what_discord_refuses(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{fake.api_base}/applications/{fake.application_id}/commands"
        headers = {"Authorization": f"Bot {TOKEN}"}
        for bad in (
            [{"name": "Has Spaces", "type": 1, "description": "x"}],
            [{"name": "Menu", "type": 3, "description": "menus have none"}],
            [{"name": "Menu", "type": 2}, {"name": "Menu", "type": 2}],
        ):
            async with http.put(url, json=bad, headers=headers) as response:
                assert response.status == 400, bad
        ok = [{"name": "Menu", "type": 2}, {"name": "Menu", "type": 3}, {"name": "menu", "type": 1, "description": "x"}]
        async with http.put(url, json=ok, headers=headers) as response:
            assert response.status == 200
    assert sorted(c["type"] for c in fake.commands()) == [1, 2, 3]


# ---------------------------------------------------------------- the voice server


def test_voice_packets_decrypt_as_discord_py_encrypts_them():
    """The fake's UDP endpoint inverts discord.py's own aead_xchacha20_poly1305_rtpsize."""
    import secrets
    from types import SimpleNamespace

    from discord.voice_client import VoiceClient

    from tests.fakediscord.voice import decrypt_rtpsize

    key = secrets.token_bytes(32)
    sender = SimpleNamespace(secret_key=list(key), _incr_nonce=7, checked_add=lambda *args: None)
    header = struct.pack(">BBHII", 0x80, 0x78, 1, 960, 42)
    packet = VoiceClient._encrypt_aead_xchacha20_poly1305_rtpsize(sender, header, b"opus frame")  # type: ignore[arg-type]
    assert decrypt_rtpsize(key, packet) == b"opus frame"
    assert decrypt_rtpsize(secrets.token_bytes(32), packet) is None


async def test_voice_server_answers_ip_discovery_and_identify():
    """IP discovery over UDP, and the voice websocket's HELLO; a wrong token is refused (4004)."""
    async with FakeDiscord(voice=True) as fake:
        voice = fake.voice
        assert voice is not None and voice.endpoint.startswith("127.0.0.1:")
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue[bytes] = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                answers.put_nowait(data)

        transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", voice.udp_port))
        try:
            request = bytearray(74)
            struct.pack_into(">HHI", request, 0, 1, 70, 1234)
            transport.sendto(bytes(request))
            answer = await asyncio.wait_for(answers.get(), 5)
            port = transport.get_extra_info("sockname")[1]
            assert len(answer) == 74 and answer[1] == 2 and struct.unpack_from(">I", answer, 4)[0] == 1234
            assert answer[8 : answer.index(0, 8)] == b"127.0.0.1" and struct.unpack_from(">H", answer, 72)[0] == port
        finally:
            transport.close()
        import ssl

        context = ssl.create_default_context(cafile=str(voice.certificate))
        async with aiohttp.ClientSession() as http, http.ws_connect(f"wss://{voice.endpoint}/?v=8", ssl=context) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["op"] == 8 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 0, "d": {"server_id": "1", "user_id": "2", "session_id": "x", "token": "bad"}})
            closed = await ws.receive(timeout=5)
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4004


# --------------------------------------------------------------------------- components v2
V2 = 1 << 15


class CardBot(MiniBot):
    """Answers with discord.py's LayoutView (components v2): a card with a picture and a persistent button."""

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReplayButton)
        tree = self.tree

        def card(title: str) -> discord.ui.LayoutView:
            view = discord.ui.LayoutView(timeout=None)
            container: discord.ui.Container = discord.ui.Container(accent_colour=0x1DB954)
            container.add_item(
                discord.ui.Section(
                    discord.ui.TextDisplay(f"## {title}"),
                    "crate is alive",
                    accessory=discord.ui.Thumbnail("attachment://cover.png", description="the cover"),
                )
            )
            container.add_item(discord.ui.MediaGallery(discord.MediaGalleryItem("attachment://chart.png")))
            container.add_item(discord.ui.Separator())
            container.add_item(discord.ui.ActionRow(ReplayButton(7)))
            view.add_item(container)
            return view

        def files() -> list[discord.File]:
            return [
                discord.File(io.BytesIO(tiny_png(4, 3)), filename="cover.png"),
                discord.File(io.BytesIO(tiny_png(8, 6)), filename="chart.png"),
            ]

        @tree.command(description="A card")
        async def card_now(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(view=card("Now"), files=files())

        @tree.command(description="A card after some thinking")
        async def card_later(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(content="⏳ working…")
            await interaction.edit_original_response(content=None, view=card("Later"), attachments=files())

        guild = discord.Object(self.guild_id)
        tree.copy_global_to(guild=guild)
        await tree.sync(guild=guild)


async def test_a_components_v2_card_round_trips_and_its_button_survives_a_restart(fake: FakeDiscord) -> None:
    async with running_bot(fake, cls=CardBot):
        await fake.wait_commands_synced(guild_id=fake.guilds[0])
        now = await (await fake.slash("Guild One", "general", "alice", "card_now")).wait_original()
        later_ix = await fake.slash("Guild One", "general", "alice", "card_later")
        later = await later_ix.wait_original(predicate=lambda m: m.components_v2)
        assert later.history[-1]["content"] == "⏳ working…"  # a plain message became a card by an edit
        for message, title in ((now, "Now"), (later, "Later")):
            assert message.components_v2 and message.shown and message.flags & V2
            assert message.content == "" and message.embeds == []
            assert message.text_displays == [f"## {title}", "crate is alive"]
            assert message.text == f"## {title}\ncrate is alive"
            assert [b["custom_id"] for b in message.buttons] == ["replay:7"]
            payload = message.payload()
            assert payload["components"][0]["type"] == 17 and payload["components"][0]["accent_color"] == 0x1DB954
            ids = [c["id"] for c in message.all_components()]
            assert sorted(ids) == list(range(1, len(ids) + 1))  # numbered as Discord numbers them
            media = message.media
            assert [m["kind"] for m in media] == ["thumbnail", "gallery"]
            assert media[0]["description"] == "the cover"
            assert [(a.filename, a.width) for a in message.media_attachments()] == [("cover.png", 4), ("chart.png", 8)]
            async with aiohttp.ClientSession() as http, http.get(media[1]["url"]) as response:
                assert response.status == 200 and (await response.read()) == tiny_png(8, 6)
    await fake.wait_disconnected()

    async with running_bot(fake, count=2, cls=CardBot):  # a new process: the DynamicItem inside the layout
        click = await fake.click("Guild One", "general", "carol", now, "replay:7")
        assert (await click.wait_original()).content == "replaying track 7"


async def test_components_v2_rules_are_refused_like_discord(fake: FakeDiscord) -> None:
    channel = fake.guilds[0].channel("general").id
    url = f"{fake.api_base}/channels/{channel}/messages"
    headers = {"Authorization": f"Bot {TOKEN}"}
    text = {"type": 10, "content": "hello"}
    row = {"type": 1, "components": [{"type": 2, "style": 1, "label": "Go", "custom_id": "go"}]}

    async with aiohttp.ClientSession(headers=headers) as http:

        async def send(body: dict[str, Any], method: str = "POST", where: str = url) -> tuple[int, dict[str, Any]]:
            async with http.request(method, where, json=body) as response:
                return response.status, await response.json()

        async def refused(body: dict[str, Any], says: str, method: str = "POST", where: str = url) -> None:
            status, answer = await send(body, method, where)
            assert status == 400 and answer["code"] in (50035, 50006), answer
            assert says in answer["message"], answer

        await refused({"flags": V2, "content": "hi", "components": [text]}, "'content' field cannot be used")
        await refused({"flags": V2, "embeds": [{"title": "x"}], "components": [text]}, "'embeds' field")
        await refused({"flags": V2, "components": []}, "empty message")
        many = [{"type": 17, "components": [text] * 13}] * 3  # 3 containers + 39 text displays
        await refused({"flags": V2, "components": many}, "40 or fewer (got 42)")
        await refused({"components": [text]}, "needs the IS_COMPONENTS_V2 message flag")
        await refused({"flags": V2, "components": [{"type": 11, "media": {"url": "https://x/y.png"}}]}, "type 11")
        section = {"type": 9, "components": [text] * 4, "accessory": {"type": 11, "media": {"url": "https://x/y.png"}}}
        await refused({"flags": V2, "components": [section]}, "1 to 3 text displays")
        gallery = {"type": 12, "items": [{"media": {"url": "attachment://missing.png"}}]}
        await refused({"flags": V2, "components": [gallery]}, "attachment://missing.png refers to no attachment")
        await refused({"flags": V2, "components": [{"type": 17, "components": [row, row]}]}, "cannot be duplicated")
        nested = {"type": 17, "components": [{"type": 17, "components": [text]}]}
        await refused({"flags": V2, "components": [nested]}, "type 17 is not allowed here")
        await refused({"flags": V2, "components": [{"type": 10, "content": "x" * 4001}]}, "between 1 and 4000")
        assert [m for m in fake.channel_messages(channel) if m.components_v2] == []  # nothing was posted

        card = {"type": 17, "components": [text, {"type": 14, "divider": True}, row]}
        status, posted = await send({"flags": V2, "components": [card]})
        assert status == 200 and posted["flags"] == V2 and posted["content"] == ""
        where = f"{url}/{posted['id']}"
        await refused({"flags": 0, "components": [card]}, "cannot be removed", "PATCH", where)
        await refused({"content": "now with words"}, "'content' field cannot be used", "PATCH", where)
        status, edited = await send({"components": [{"type": 10, "content": "bye"}]}, "PATCH", where)
        assert status == 200 and edited["flags"] == V2  # an edit that says nothing of flags keeps the flag
        assert fake.message(int(posted["id"])).text == "bye"

        status, plain = await send({"content": "plain words"})
        assert status == 200 and plain["flags"] == 0
        status, upgraded = await send(
            {"content": None, "flags": V2, "components": [text]}, "PATCH", f"{url}/{plain['id']}"
        )
        assert status == 200 and upgraded["flags"] == V2 and upgraded["content"] == ""
