"""Who is asking, as far as permissions go: a plain value the cogs build from an interaction.

``bot/`` never sees a Discord object, so a cog turns the member behind an interaction into a
:class:`Caller` (their id, their role ids, whether they may manage the server) and the use cases
decide from it: a DJ may skip and end any session, an owner or server manager may change a
playlist, only server managers may change the settings. The console and the CLI build one too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Caller:
    user_id: int
    role_ids: frozenset[int] = field(default_factory=frozenset)
    #: Discord's Manage Server permission (administrators and the owner have it too).
    manages_server: bool = False

    def has_role(self, role_id: int | None) -> bool:
        return role_id is not None and role_id in self.role_ids


__all__ = ["Caller"]
