"""`ToolTokenService`: shown once, stored as hashes, listed without secrets, revocable."""

from __future__ import annotations

import hashlib
import logging

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tool_tokens import (
    PREFIX_LENGTH,
    TOKEN_MARK,
    InvalidTokenNameError,
    ToolTokenService,
    ToolTokenVerifier,
    UnknownTokenUserError,
    UnknownToolTokenError,
)
from shared.db.enums import TokenScope
from shared.db.models import ApiToken, User
from testkit.factories import create_user

service = ToolTokenService()
verifier = ToolTokenVerifier()


async def _stored_values(session: AsyncSession) -> list[str]:
    """Every value of every api_tokens row, as the database returns it."""
    rows = await session.execute(text("SELECT * FROM api_tokens"))
    return [str(value) for row in rows for value in row]


class TestCreate:
    async def test_user_token_is_stored_only_as_its_hash(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)

        issued = await service.create_user_token(db_session, user.id, "laptop")

        row = await db_session.get(ApiToken, issued.row.id)
        assert row is not None
        assert row.token_hash == hashlib.sha256(issued.plaintext.encode()).hexdigest()
        assert (row.scope, row.user_id, row.name) == (TokenScope.USER, user.id, "laptop")
        values = await _stored_values(db_session)
        assert values
        assert not any(issued.plaintext in value for value in values)

    async def test_token_is_marked_random_and_long(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)

        tokens = [
            (await service.create_user_token(db_session, user.id, f"t{n}")).plaintext
            for n in range(3)
        ]

        assert all(token.startswith(TOKEN_MARK) for token in tokens)
        assert all(len(token) >= len(TOKEN_MARK) + 43 for token in tokens)
        assert len(set(tokens)) == 3

    async def test_prefix_is_the_start_of_the_token_and_too_short_to_use(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        issued = await service.create_user_token(db_session, user.id, "laptop")

        assert issued.row.token_prefix == issued.plaintext[:PREFIX_LENGTH]
        assert len(issued.row.token_prefix) < len(issued.plaintext) // 3
        assert await verifier.verify(db_session, issued.row.token_prefix) is None

    async def test_created_user_token_verifies_as_that_user(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        issued = await service.create_user_token(db_session, user.id, "laptop")
        assert issued.row.last_used_at is None

        row = await verifier.verify(db_session, issued.plaintext)

        assert row is not None
        assert (row.id, row.scope, row.user_id) == (issued.row.id, TokenScope.USER, user.id)
        assert row.last_used_at is not None

    async def test_admin_token_belongs_to_no_user_and_verifies(
        self, db_session: AsyncSession
    ) -> None:
        issued = await service.create_admin_token(db_session, "household assistant")

        row = await verifier.verify(db_session, issued.plaintext)

        assert row is not None
        assert (row.scope, row.user_id) == (TokenScope.ADMIN, None)

    async def test_user_token_for_a_missing_user_is_refused_and_nothing_stored(
        self, db_session: AsyncSession
    ) -> None:
        with pytest.raises(UnknownTokenUserError):
            await service.create_user_token(db_session, 2**31 - 1, "ghost")

        assert await db_session.scalar(select(ApiToken.id)) is None

    async def test_name_is_trimmed(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)

        issued = await service.create_user_token(db_session, user.id, "  Claude desktop \n")

        assert issued.row.name == "Claude desktop"

    @pytest.mark.parametrize(
        "name", ["", "   ", "x" * 256, "tab\tin name", "nul\x00", "surrogate \ud800"]
    )
    async def test_unusable_names_are_refused(self, db_session: AsyncSession, name: str) -> None:
        user = await create_user(db_session)

        with pytest.raises(InvalidTokenNameError):
            await service.create_user_token(db_session, user.id, name)

        assert await db_session.scalar(select(ApiToken.id)) is None

    async def test_a_255_character_unicode_name_is_kept(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        name = "Å" * 254 + "🎧"

        issued = await service.create_user_token(db_session, user.id, name)

        db_session.expunge_all()
        assert await db_session.scalar(select(ApiToken.name)) == name
        assert issued.row.name == name


class TestList:
    async def test_lists_one_users_tokens_oldest_first_revoked_included(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        other = await create_user(db_session)
        first = await service.create_user_token(db_session, user.id, "first")
        await service.create_user_token(db_session, other.id, "someone else's")
        await service.create_admin_token(db_session, "admin")
        second = await service.create_user_token(db_session, user.id, "second")
        await service.revoke(db_session, first.row.id)

        listed = await service.list_tokens(db_session, user_id=user.id)

        assert [entry.row.id for entry in listed] == [first.row.id, second.row.id]
        assert [entry.row.revoked_at is not None for entry in listed] == [True, False]
        assert {entry.spotify_user_id for entry in listed} == {user.spotify_user_id}

    async def test_without_a_user_lists_every_token_with_its_owner(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        mine = await service.create_user_token(db_session, user.id, "mine")
        admin = await service.create_admin_token(db_session, "admin")

        listed = await service.list_tokens(db_session)

        assert [(entry.row.id, entry.spotify_user_id) for entry in listed] == [
            (mine.row.id, user.spotify_user_id),
            (admin.row.id, None),
        ]

    async def test_a_user_without_tokens_has_an_empty_list(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        await service.create_admin_token(db_session, "admin")

        assert await service.list_tokens(db_session, user_id=user.id) == []


class TestRevoke:
    async def test_a_revoked_token_no_longer_verifies(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        issued = await service.create_user_token(db_session, user.id, "laptop")
        kept = await service.create_user_token(db_session, user.id, "phone")

        row = await service.revoke(db_session, issued.row.id)

        assert row.revoked_at is not None
        assert await verifier.verify(db_session, issued.plaintext) is None
        assert await verifier.verify(db_session, kept.plaintext) is not None

    async def test_a_revoked_admin_token_no_longer_verifies(self, db_session: AsyncSession) -> None:
        issued = await service.create_admin_token(db_session, "admin")

        await service.revoke(db_session, issued.row.id)

        assert await verifier.verify(db_session, issued.plaintext) is None

    async def test_revoking_twice_keeps_the_first_revocation_time(
        self, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        issued = await service.create_user_token(db_session, user.id, "laptop")
        first = (await service.revoke(db_session, issued.row.id)).revoked_at

        again = await service.revoke(db_session, issued.row.id)

        assert first is not None
        assert again.revoked_at == first

    async def test_revoking_an_unknown_token_raises(self, db_session: AsyncSession) -> None:
        with pytest.raises(UnknownToolTokenError):
            await service.revoke(db_session, 2**31 - 1)


class TestSecrecy:
    async def test_the_plaintext_never_reaches_a_log_record(
        self, db_session: AsyncSession, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        user = await create_user(db_session)
        issued = await service.create_user_token(db_session, user.id, "laptop")
        admin = await service.create_admin_token(db_session, "admin")
        await verifier.verify(db_session, issued.plaintext)
        await service.list_tokens(db_session)
        await service.revoke(db_session, issued.row.id)
        await service.revoke(db_session, admin.row.id)

        messages = [record.getMessage() for record in caplog.records]
        assert "tool token created" in messages
        assert "tool token revoked" in messages
        for record in caplog.records:
            everything = repr(vars(record))
            for plaintext in (issued.plaintext, admin.plaintext):
                assert plaintext not in everything
                assert plaintext[PREFIX_LENGTH:] not in everything

    async def test_the_issued_tokens_repr_hides_the_plaintext(
        self, db_session: AsyncSession
    ) -> None:
        issued = await service.create_admin_token(db_session, "admin")

        assert issued.plaintext not in repr(issued)
        assert issued.plaintext not in str(issued)


class TestUserDeletion:
    async def test_a_users_tokens_go_with_the_user_row(self, db_session: AsyncSession) -> None:
        user = await create_user(db_session)
        other = await create_user(db_session)
        issued = await service.create_user_token(db_session, user.id, "laptop")
        kept = await service.create_user_token(db_session, other.id, "phone")
        admin = await service.create_admin_token(db_session, "admin")
        db_session.expunge_all()

        # The foreign key cascades on both databases, whatever code deletes the user.
        await db_session.execute(delete(User).where(User.id == user.id))

        remaining = await db_session.scalars(select(ApiToken.id).order_by(ApiToken.id))
        assert list(remaining) == [kept.row.id, admin.row.id]
        assert await verifier.verify(db_session, issued.plaintext) is None
