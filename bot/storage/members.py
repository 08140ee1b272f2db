"""Each member's defaults and presets, per server.

Per server rather than everywhere: each server has its own limits (a default of 4 MP is
capped where 2 MP is the most) and its own habits (private in one, public in another), and
what a member keeps in one server says nothing to another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs.defaults import MAX_PRESETS, MemberDefaults, Preset, PresetRefused
from bot.storage.db import Database
from bot.storage.jobs import utcnow
from bot.storage.models import MemberDefaultsRow, MemberPresetRow


def _preset(row: MemberPresetRow) -> Preset:
    return Preset(
        name=row.name, defaults=MemberDefaults.model_validate(row.settings), suffix=row.suffix
    )


def _named(rows: list[MemberPresetRow], name: str) -> MemberPresetRow | None:
    """The preset called `name`, whatever its case."""
    wanted = name.casefold()
    return next((row for row in rows if row.name.casefold() == wanted), None)


class MemberStore:
    """Reads and writes members' defaults and presets; returns plain models."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- defaults ---------------------------------------------------------------------

    async def defaults(self, guild_id: int, user_id: int) -> MemberDefaults:
        async with self.db.session() as session:
            row = await session.get(MemberDefaultsRow, (guild_id, user_id))
            return MemberDefaults.model_validate(row.settings) if row else MemberDefaults()

    async def set_defaults(self, guild_id: int, user_id: int, **changes: Any) -> MemberDefaults:
        """Set some defaults (None leaves one as it is); the defaults now in force."""
        given = {name: value for name, value in changes.items() if value is not None}
        try:
            return await self._set_defaults(guild_id, user_id, given)
        except IntegrityError:  # the first defaults written at the same instant elsewhere
            return await self._set_defaults(guild_id, user_id, given)

    async def _set_defaults(
        self, guild_id: int, user_id: int, given: dict[str, Any]
    ) -> MemberDefaults:
        async with self.db.session() as session:
            row = await session.get(MemberDefaultsRow, (guild_id, user_id), with_for_update=True)
            current = MemberDefaults.model_validate(row.settings) if row else MemberDefaults()
            updated = MemberDefaults.model_validate(given).over(current)
            stored = updated.model_dump(mode="json", exclude_none=True)
            if row is None:
                session.add(
                    MemberDefaultsRow(
                        guild_id=guild_id, user_id=user_id, settings=stored, updated_at=utcnow()
                    )
                )
            else:
                row.settings, row.updated_at = stored, utcnow()
        return updated

    async def reset_defaults(self, guild_id: int, user_id: int) -> bool:
        """Forget the member's defaults here; False if there were none."""
        async with self.db.session() as session:
            result = await session.execute(
                delete(MemberDefaultsRow).where(
                    MemberDefaultsRow.guild_id == guild_id, MemberDefaultsRow.user_id == user_id
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # --- presets ----------------------------------------------------------------------

    async def _rows(
        self, session: AsyncSession, guild_id: int, user_id: int
    ) -> list[MemberPresetRow]:
        rows = await session.scalars(
            select(MemberPresetRow)
            .where(MemberPresetRow.guild_id == guild_id, MemberPresetRow.user_id == user_id)
            .order_by(func.lower(MemberPresetRow.name))
        )
        return list(rows)

    async def presets(self, guild_id: int, user_id: int) -> list[Preset]:
        """The member's presets here, by name."""
        async with self.db.session() as session:
            return [_preset(row) for row in await self._rows(session, guild_id, user_id)]

    async def profile(
        self, guild_id: int, user_id: int, preset: str | None = None
    ) -> tuple[MemberDefaults, Preset | None]:
        """The member's defaults and, when named, their preset `preset` (None if they have
        none by that name), in one read."""
        async with self.db.session() as session:
            row = await session.get(MemberDefaultsRow, (guild_id, user_id))
            defaults = MemberDefaults.model_validate(row.settings) if row else MemberDefaults()
            if preset is None:
                return defaults, None
            found = _named(await self._rows(session, guild_id, user_id), preset)
            return defaults, _preset(found) if found else None

    async def save_preset(self, guild_id: int, user_id: int, preset: Preset) -> bool:
        """Save `preset`, replacing the member's preset of that name (True when it did);
        PresetRefused when they already have MAX_PRESETS others."""
        now = utcnow()
        try:
            async with self.db.session() as session:
                rows = await self._rows(session, guild_id, user_id)
                row = _named(rows, preset.name)
                settings = preset.defaults.model_dump(mode="json", exclude_none=True)
                if row is not None:
                    row.name, row.settings, row.suffix, row.updated_at = (
                        preset.name,
                        settings,
                        preset.suffix,
                        now,
                    )
                    return True
                if len(rows) >= MAX_PRESETS:
                    raise PresetRefused(
                        f"You already have {MAX_PRESETS} presets here, the most you can keep;"
                        " delete one with `/flux-settings preset delete` first."
                    )
                session.add(
                    MemberPresetRow(
                        guild_id=guild_id,
                        user_id=user_id,
                        name=preset.name,
                        settings=settings,
                        suffix=preset.suffix,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return False
        except IntegrityError:  # the same name saved at the same instant elsewhere
            raise PresetRefused(
                f"A preset called “{preset.name}” was just saved; try again in a moment."
            ) from None

    async def delete_preset(self, guild_id: int, user_id: int, name: str) -> str | None:
        """Delete the member's preset `name` (any case); its stored name, or None."""
        async with self.db.session() as session:
            row = _named(await self._rows(session, guild_id, user_id), name)
            if row is None:
                return None
            await session.delete(row)
            return row.name
