"""Crate's answers are Components V2 cards: a track's answer, /recommend, a session's now-playing
board and /taste, each a message with the IS_COMPONENTS_V2 flag, no content or embeds, at most 40
components, the picture inside the card and the buttons in it; the buttons work, also on cards a
previous process posted (the real bot, real music, the fake Discord's V2 rules).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.cards import answered_card, card
from tests.fakediscord import COMPONENTS_V2, FakeDiscord, RecordedMessage
from tests.fakediscord.harness import running_crate, settings_for

pytestmark = pytest.mark.asyncio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRACKS = ("singularity-awakening", "nexuiz-brainsukker", "nexuiz-beast-of-insanity")


def is_a_card(message: RecordedMessage) -> None:
    """What Discord demands of a message with IS_COMPONENTS_V2, and what makes it Crate's card."""
    assert message.flags & COMPONENTS_V2, message
    assert message.content == "" and message.embeds == [], message.payload()
    assert len(message.all_components()) <= 40, len(message.all_components())
    assert [c["type"] for c in message.components] == [17], message.components  # one container
    assert message.text_displays and card(message).title, message.payload()


async def answered(ix, timeout: float = 90) -> RecordedMessage:
    """The answer once it shows a card or an embed (not a progress note); a private follow-up too."""
    await ix.wait_response(timeout=10)
    return await ix.wait_answer(lambda m: m.shown, timeout=timeout)


def colours(png: bytes) -> set[tuple[int, int, int]]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {colour for _, colour in image.getcolors(maxcolors=1 << 24) or []}


async def test_the_four_answers_are_cards_whose_buttons_work_after_a_restart(tmp_path):
    database = tmp_path / "crate.sqlite3"
    async with FakeDiscord() as fake:
        guild = fake.guilds[0]
        channel = guild.channel("music")
        settings = settings_for(fake, database, workers=1)
        async with running_crate(fake, settings):
            # a track's answer: the genre card with 👍 👎 👥 📻 📍 and "Not right?" inside it
            tracks, answers = {}, {}
            for user, name in zip(("alice", "bob", "carol"), TRACKS, strict=True):
                data = (EXAMPLES / f"{name}.ogg").read_bytes()
                ix = await fake.slash(
                    guild, channel, user, "genre", attachments={"file": (f"{name}.ogg", data, "audio/ogg")}
                )
                shared = await answered(ix)
                is_a_card(shared)
                assert card(shared).title == name and "█" in card(shared).description
                assert card(shared).footer.startswith("Track #")
                rate = next(c for c in shared.custom_ids if c.startswith("crate:rate:"))
                tracks[name], answers[name] = int(rate.split(":")[2]), shared
                assert {c.split(":")[1] for c in shared.custom_ids} == {"rate", "who", "radio", "where", "correct"}
            awakening, brainsukker = tracks["singularity-awakening"], tracks["nexuiz-brainsukker"]
            for user, track, verb in (
                ("alice", awakening, "like"),
                ("bob", awakening, "like"),
                ("bob", brainsukker, "dislike"),
                ("carol", tracks[TRACKS[2]], "like"),
            ):
                rated = await fake.slash(guild, channel, user, verb, {"track": track})
                assert "You" in (await rated.wait_original()).content

            # /taste: the match's picture inside the card, in a media gallery
            taste = await answered(
                await fake.slash(guild, channel, "alice", "taste", {"member": "bob", "public": True})
            )
            is_a_card(taste)
            assert not taste.ephemeral and card(taste).title == "Taste match: Alice & Bob"
            [avatar, gallery] = taste.media  # bob's avatar beside the title, the chart under it
            assert (
                avatar["kind"] == "thumbnail" and avatar["url"].startswith("https://") and gallery["kind"] == "gallery"
            )
            [chart] = taste.media_attachments()
            assert chart.filename == "taste.png" and gallery["width"] == chart.width >= 400
            seen = colours(chart.data)
            assert (0x58, 0x65, 0xF2) in seen and (0x1D, 0xB9, 0x54) in seen  # a bar for each of them

            # /recommend: each pick's line with its own row of 👍 / 👎 / 📍 / 🔁 inside the card
            picks = await answered(await fake.slash(guild, channel, "carol", "recommend", {"count": 2}))
            is_a_card(picks)
            assert card(picks).title.startswith("Picks for")
            more = [c for c in picks.custom_ids if c.startswith("crate:more:")]
            rates = [c for c in picks.custom_ids if c.startswith("crate:rate:") and c.endswith(":up")]
            assert 1 <= len(more) == len(rates) <= 2
            click = await fake.click(guild, channel, "carol", picks, more[0])
            response = await click.wait_response(timeout=30)
            assert response.ephemeral and response.data["flags"] & COMPONENTS_V2
            assert answered_card(response.data).title.startswith("More like")
            # 📍 under a pick: that pick pinned on the server's map, for the clicker alone
            where = [c for c in picks.custom_ids if c.startswith("crate:where:")]
            assert [c.split(":")[2] for c in where] == [c.split(":")[2] for c in rates]
            pinned = await fake.click(guild, channel, "carol", picks, where[-1])
            shown = await pinned.wait_original(timeout=30)
            assert shown.ephemeral and card(shown).title == "📍 Where this track sits", shown.payload()

            # a session's now-playing board: a card edited in place, its controls inside it
            start = await fake.slash(guild, channel, "alice", "session start")
            assert "started a listening session" in (await start.wait_original(lambda m: bool(m.content), 30)).content
            board = await fake.wait_channel_message(
                channel, lambda m: any(c.startswith("crate:skip:") for c in m.custom_ids), guild=guild, timeout=30
            )
            is_a_card(board)
            assert card(board).title == "🎧 Listening session" and card(board).footer.startswith("Hosted by Alice")
            skip = next(c for c in board.custom_ids if c.startswith("crate:skip:"))
            # 📍 on the board: the playing track pinned on the server's map, for the clicker alone
            where = next(c for c in board.custom_ids if c.startswith("crate:where:"))
            assert where.split(":")[2] in {c.split(":")[2] for c in board.custom_ids if c.startswith("crate:rate:")}
            pinned = await fake.click(guild, channel, "bob", board, where)
            shown = await pinned.wait_original(timeout=30)
            assert shown.ephemeral and card(shown).title == "📍 Where this track sits", shown.payload()
            before = board.edits
            nexted = await fake.click(guild, channel, "alice", board, skip)
            assert (await nexted.wait_original(timeout=30)).content  # the host moves on at once
            edited = await fake.wait_channel_message(
                channel, lambda m: m.id == board.id and m.edits > before, guild=guild, timeout=30
            )
            is_a_card(edited)  # edited in place, still a card

        # a new process: the cards the old one posted still answer their buttons
        async with running_crate(fake, settings, ready_count=2):
            like = await fake.click(guild, channel, "carol", fake.message(picks.id), rates[0])
            assert "You liked" in (await like.wait_original(timeout=30)).content
            assert like.ack_latency is not None and like.ack_latency < 3
            beast = TRACKS[2]
            who = await fake.click(guild, channel, "bob", answers[beast], f"crate:who:{tracks[beast]}")
            assert card(await answered(who, 30)).title.startswith("Who likes")
            board = fake.message(board.id)
            skipped = await fake.click(guild, channel, "alice", board, skip)
            assert (await skipped.wait_original(timeout=30)).content
            end = await fake.slash(guild, channel, "alice", "session end")
            await end.wait_response(timeout=10)
            ended = await fake.wait_channel_message(
                channel, lambda m: m.id == board.id and not m.custom_ids, guild=guild, timeout=30
            )
            assert ended.flags & COMPONENTS_V2 and ended.text == "This session has ended."
