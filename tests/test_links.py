"""Links that still work tomorrow: Crate renews an attachment's expiring Discord link before it
downloads the audio again (voice playback) or shares it again (text sessions).

The fake Discord's CDN signs its links and refuses them once expired, as Discord's does; its
``POST /attachments/refresh-urls`` renews them. No analysis pool is needed for this path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
import numpy as np

from bot import catalog, store
from bot.app.crate import Crate
from bot.config import Settings
from bot.store import open_database
from tests.fakediscord import FakeDiscord

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "singularity-awakening.ogg"
GUILD, ALICE = 7, 11


async def test_an_expired_attachment_link_is_refreshed_before_a_re_download(tmp_path):
    data = EXAMPLE.read_bytes()
    async with FakeDiscord() as fake, aiohttp.ClientSession() as http:
        channel = fake.guilds[0].channel("music").id
        attachment = fake.state.new_attachment(fake.base_url, channel, "awakening.ogg", data, "audio/ogg")
        first_link = attachment.url
        asked: list[tuple[str, int | None, int | None]] = []

        async def refresh_link(url: str, channel_id: int | None, message_id: int | None) -> str:
            asked.append((url, channel_id, message_id))
            async with http.post(f"{fake.api_base}/attachments/refresh-urls", json={"attachment_urls": [url]}) as r:
                return (await r.json())["refreshed_urls"][0]["refreshed"]

        settings = Settings.from_env({"CRATE_DATABASE": str(tmp_path / "crate.sqlite3")}, dotenv_path=None)
        async with open_database(settings.database_path) as db:
            track, _ = await store.add_track(
                db,
                GUILD,
                title="Awakening",
                source_url=first_link,
                source_kind="attachment",
                content_hash=hashlib.sha256(data).hexdigest(),
                duration=60.0,
                genres=[("ambient", 1.0)],
                tag_probs=np.full(catalog.TAG_COUNT, 0.1, np.float32),
                embedding=np.ones(catalog.EMBEDDING_DIM, np.float32),
                tempo=None,
                shared_by=ALICE,
            )
            await store.set_track_source(
                db, GUILD, track.id, store.TrackSource("attachment", first_link, channel, None)
            )
            crate = Crate(settings, db, pool=None, http=http)  # type: ignore[arg-type]
            crate.sharing.refresh_link = refresh_link

            fake.clock.advance(25 * 3600)  # a day later the link Discord gave is dead
            async with http.get(first_link) as r:
                assert r.status == 404
            path = await crate.sharing.fetch_for_playback(await store.get_track(db, GUILD, track.id), tmp_path)

            assert path is not None and path.read_bytes() == data
            assert asked == [(first_link, channel, None)]
            stored = await store.track_source(db, GUILD, track.id)
            assert stored.url != first_link and stored.channel_id == channel  # the renewed link is kept
            async with http.get(stored.url) as r:
                assert r.status == 200
