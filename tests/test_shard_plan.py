"""Which shards a process runs (bot/shards.py) and how the settings choose it and the queue."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.shards import ShardPlan, parse_shard_ids, shard_of


def settings(**env: str) -> Settings:
    return Settings.from_env(env, dotenv_path=None)


def test_a_guild_belongs_to_the_shard_discord_routes_it_to():
    guild_id = 1234567890123456789
    assert shard_of(guild_id, 1) == 0
    assert shard_of(guild_id, 4) == (guild_id >> 22) % 4
    plan = ShardPlan.of(4, (shard_of(guild_id, 4),))
    assert plan.owns(guild_id) and not ShardPlan.of(4, ((shard_of(guild_id, 4) + 1) % 4,)).owns(guild_id)


def test_shard_ids_take_numbers_and_ranges():
    assert parse_shard_ids("0-3") == (0, 1, 2, 3)
    assert parse_shard_ids("4, 5,7") == (4, 5, 7)
    assert parse_shard_ids("0-1,6") == (0, 1, 6)
    for bad in ("", "3-1", "a", "1-"):
        with pytest.raises(ValueError):
            parse_shard_ids(bad)


def test_one_process_runs_every_shard_and_is_primary_by_default():
    plan = settings().shards
    assert plan == ShardPlan(1, (0,), True) and plan.is_whole


def test_the_process_running_shard_0_is_primary_unless_told_otherwise():
    first = settings(CRATE_SHARD_COUNT="4", CRATE_SHARD_IDS="0-1").shards
    second = settings(CRATE_SHARD_COUNT="4", CRATE_SHARD_IDS="2-3").shards
    assert first.primary and not second.primary and not first.is_whole
    assert settings(CRATE_SHARD_COUNT="4", CRATE_SHARD_IDS="2,3", CRATE_PRIMARY="1").shards.primary
    assert not settings(CRATE_SHARD_COUNT="4", CRATE_SHARD_IDS="0", CRATE_PRIMARY="0").shards.primary
    assert first.describe() == "shards 0, 1 of 4 (primary)"


@pytest.mark.parametrize(
    "env, named",
    [
        ({"CRATE_SHARD_COUNT": "2", "CRATE_SHARD_IDS": "2"}, "CRATE_SHARD_IDS"),
        ({"CRATE_SHARD_IDS": "x"}, "CRATE_SHARD_IDS"),
        ({"CRATE_SHARD_COUNT": "0"}, "CRATE_SHARD_COUNT"),
        ({"CRATE_PRIMARY": "maybe"}, "CRATE_PRIMARY"),
        ({"CRATE_QUEUE": "redis"}, "CRATE_QUEUE"),
        ({"CRATE_QUEUE": "postgres"}, "CRATE_DATABASE_URL"),
    ],
)
def test_wrong_settings_are_refused_naming_the_variable(env, named):
    with pytest.raises(ConfigError) as caught:
        settings(**env)
    assert named in caught.value.user_message


def test_the_queue_is_the_in_process_pool_unless_postgres_is_asked_for():
    assert settings().queue == "pool"
    chosen = settings(CRATE_QUEUE="postgres", CRATE_DATABASE_URL="postgresql://crate@127.0.0.1/crate")
    assert chosen.queue == "postgres"
