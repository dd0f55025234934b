"""Sessions: opaque bearer tokens that authenticate into a Principal.

A token is shown once, when issued; only its SHA-256 is stored. An unknown,
expired or revoked token, or one whose user was deactivated, raises the same
:class:`~velocity_domain.errors.AuthenticationFailed`, so a caller learns
nothing about why.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import (
    AuthenticationFailed,
    ConcurrencyConflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from velocity_domain.governance.service import Service, serves
from velocity_domain.identity.entities import Session
from velocity_domain.identity.ports import FoundSession, SessionPrincipals
from velocity_domain.kernel.arguments import text_problem
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE
from velocity_domain.kernel.query import Eq, IsNull, Query
from velocity_domain.services.identity.users import (
    MANAGE,
    live_grants,
    principal_of,
    resolve_principal,
)
from velocity_domain.uow import UnitOfWork

__all__ = [
    "DEFAULT_SESSION_TTL",
    "SEEN_EVERY",
    "IssuedSession",
    "SessionService",
    "hash_token",
]

DEFAULT_SESSION_TTL = timedelta(hours=12)
#: How old a session's ``last_seen_at`` may get before ``authenticate`` writes it again.
SEEN_EVERY = timedelta(minutes=1)
ISSUE = register("identity.sessions.issue", MANAGE, "issue a session token for a user")
REVOKE = register(
    "identity.sessions.revoke", None, "revoke a session (one's own, or any with manage)"
)
REVOKE_ALL = register(
    "identity.sessions.revoke_all",
    None,
    "revoke all of a user's sessions (own, or any with manage)",
)


def hash_token(token: str) -> str:
    """Return the stored form of a token: its SHA-256 in lower-case hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@attrs.frozen
class IssuedSession:
    """A new session and its token; the token is never available again."""

    session: Session
    token: str = attrs.field(repr=False)


class SessionService(Service):
    """Issue, authenticate and revoke sessions."""

    @serves(ISSUE)
    def issue(
        self,
        principal: Principal,
        user_id: UUID,
        *,
        ttl: timedelta = DEFAULT_SESSION_TTL,
        user_agent: str | None = None,
        ip_address: str | None = None,
    ) -> IssuedSession:
        """Issue a session for an active user (the host has checked their credentials)."""
        if ttl <= timedelta(0):
            raise ValidationFailed("ttl", "must be positive")
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        with self._begin(principal, ISSUE) as uow:
            resolve_principal(uow, user_id, now)  # the user must exist and be active
            session = Session(
                user_id=user_id,
                token_sha256=hash_token(token),
                issued_at=now,
                expires_at=now + ttl,
                user_agent=user_agent,
                ip_address=ip_address,
                created_at=now,
                updated_at=now,
            )
            uow.identity.sessions.add(session)
            self._audit(
                uow,
                principal,
                ISSUE.name,
                target_domain="identity",
                target_ref=user_id,
                details={"session_id": str(session.key)},
            )
            uow.commit()
        return IssuedSession(session, token)

    @serves(None)
    def authenticate(self, token: object) -> Principal:
        """Return the Principal a token stands for, and note when it was last seen.

        The token is attacker-controlled input: anything but a known, live
        token (another type, empty or malformed text) is ``AuthenticationFailed``
        and nothing more. ``last_seen_at`` is written when it is older than
        :data:`SEEN_EVERY`, so a client sending many requests costs reads
        only; requests racing to write it do not fail each other.
        """
        if not isinstance(token, str) or not token or text_problem(token) is not None:
            raise AuthenticationFailed
        digest = hash_token(token)
        now = self.clock.now()
        with self._unit_of_work(read_only=True) as uow:
            reader = uow.extension(SessionPrincipals)  # type: ignore[type-abstract]
            found = (reader or _TableReads(uow)).find(digest, now)
        stored = "0" * 64 if found is None else found.session.token_sha256
        matches = hmac.compare_digest(stored, digest)
        if found is None or not matches or found.session.revoked_at is not None:
            raise AuthenticationFailed
        session = found.session
        if session.expires_at <= now:
            raise AuthenticationFailed
        try:
            principal = principal_of(found.user, found.grants)
        except NotFound:
            raise AuthenticationFailed from None
        seen = session.last_seen_at
        if seen is None or now - seen >= SEEN_EVERY:
            try:
                with self._unit_of_work() as uow:
                    uow.identity.sessions.update(attrs.evolve(session, last_seen_at=now))
                    uow.commit()
            except ConcurrencyConflict:
                pass  # a request racing this one wrote it (or the session was revoked)
        return principal

    @serves(REVOKE)
    def revoke(
        self, principal: Principal, session_id: UUID, *, reason: str | None = None
    ) -> Session:
        """Revoke one session: one's own, or anyone's with ``identity.users.manage``."""
        now = self.clock.now()
        with self._begin(principal, REVOKE) as uow:
            session = uow.identity.sessions.get(session_id)
            self._check_owner(principal, session.user_id, REVOKE.name)
            if session.revoked_at is not None:
                return session
            revoked = uow.identity.sessions.update(
                attrs.evolve(session, revoked_at=now, revoked_reason=reason)
            )
            self._audit(
                uow,
                principal,
                REVOKE.name,
                target_domain="identity",
                target_ref=session.user_id,
                details={"session_id": str(session_id)},
            )
            uow.commit()
        return revoked

    @serves(REVOKE_ALL)
    def revoke_all(self, principal: Principal, user_id: UUID, *, reason: str | None = None) -> int:
        """Revoke every session of a user not yet revoked; return how many were."""
        now = self.clock.now()
        with self._begin(principal, REVOKE_ALL) as uow:
            self._check_owner(principal, user_id, REVOKE_ALL.name)
            live = Query((Eq("user_id", user_id), IsNull("revoked_at")), limit=MAX_PAGE_SIZE)
            count = 0
            while True:
                page = uow.identity.sessions.list(live)
                for session in page:
                    uow.identity.sessions.update(
                        attrs.evolve(session, revoked_at=now, revoked_reason=reason)
                    )
                    count += 1
                if page.next_cursor is None:
                    break
            self._audit(
                uow,
                principal,
                REVOKE_ALL.name,
                target_domain="identity",
                target_ref=user_id,
                details={"revoked": count},
            )
            uow.commit()
        return count

    @staticmethod
    def _check_owner(principal: Principal, user_id: UUID, operation: str) -> None:
        if principal.user_id != user_id and not principal.has(MANAGE):
            raise PermissionDenied(principal, MANAGE, operation)


class _TableReads:
    """What a token stands for, read table by table (a store without ``SessionPrincipals``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def find(self, token_sha256: str, now: datetime) -> FoundSession | None:
        """See :meth:`velocity_domain.identity.ports.SessionPrincipals.find` (four reads)."""
        identity = self._uow.identity
        page = identity.sessions.list(Query((Eq("token_sha256", token_sha256),), limit=1))
        if not page.items:
            return None
        session = page.items[0]
        user = identity.users.find(session.user_id)
        if user is None:
            return None
        return FoundSession(session, user, live_grants(self._uow, user.user_id, now))
