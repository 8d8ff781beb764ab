"""Which Discord shards this process runs, and whether it is the one that does the chores.

Discord splits a bot's servers over ``count`` gateway connections (shards): a guild belongs to
shard ``(guild_id >> 22) % count``, and Discord sends that guild's events (its interactions
included) to that shard's connection only. Past one process, each Crate process runs a range of
shards (``CRATE_SHARD_IDS``) of the same ``CRATE_SHARD_COUNT``; exactly one of them is *primary*:
it syncs the slash commands and runs the periodic sweeps (stale sessions), so that N processes do
not do the same chore N times. Plain values, nothing here knows about discord.py.
"""

from __future__ import annotations

from dataclasses import dataclass


def shard_of(guild_id: int, count: int) -> int:
    """The shard Discord routes ``guild_id``'s events to."""
    return (guild_id >> 22) % count


@dataclass(frozen=True)
class ShardPlan:
    count: int = 1
    ids: tuple[int, ...] = (0,)
    #: Syncs commands and runs the sweeps. Default: the process that runs shard 0.
    primary: bool = True

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("a bot has at least one shard")
        if not self.ids or any(not 0 <= i < self.count for i in self.ids):
            raise ValueError(f"shard ids must lie in 0..{self.count - 1}")

    @classmethod
    def of(cls, count: int = 1, ids: tuple[int, ...] | None = None, primary: bool | None = None) -> ShardPlan:
        """All shards when ``ids`` is None; primary when it runs shard 0 unless said otherwise."""
        ids = tuple(sorted(set(ids))) if ids is not None else tuple(range(count))
        return cls(count, ids, (0 in ids) if primary is None else primary)

    @property
    def is_whole(self) -> bool:
        """This process runs every shard (one process: the embedded default)."""
        return len(self.ids) == self.count

    def owns(self, guild_id: int) -> bool:
        """Whether this process receives ``guild_id``'s events (and so keeps its voice)."""
        return shard_of(guild_id, self.count) in self.ids

    def describe(self) -> str:
        shards = ", ".join(map(str, self.ids))
        role = "primary" if self.primary else "secondary"
        return f"shard{'s' if len(self.ids) > 1 else ''} {shards} of {self.count} ({role})"


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """``"0-3"``, ``"4,5,7"`` or ``"0-1, 6"`` -> the shard ids (raises ``ValueError``)."""
    ids: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if dash:
            low, high = int(first), int(last)
            if high < low:
                raise ValueError(f"empty shard range {part!r}")
            ids.extend(range(low, high + 1))
        else:
            ids.append(int(part))
    if not ids:
        raise ValueError("no shard ids")
    return tuple(ids)
