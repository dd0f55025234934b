"""``/api/admin/sessions``: issuing and revoking session tokens (domain: identity).

A session's token is answered once, in the body of the ``201`` that issues
it, and never again: the store keeps only its SHA-256, and no route sends
even that (:class:`SessionView` is a session without it). Issuing needs
``identity.users.manage``; anyone may revoke their own sessions, and an
administrator anyone's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Family, Param, Route
from velocity_domain.errors import NotFound, ValidationFailed
from velocity_domain.identity.entities import Session
from velocity_domain.services.identity.sessions import DEFAULT_SESSION_TTL

__all__ = [
    "FAMILY",
    "MAX_TTL_SECONDS",
    "IssuedSessionView",
    "RevokedSessions",
    "SessionRequest",
    "SessionRevocation",
    "SessionView",
    "SessionsRevocation",
]

PREFIX = "/api/admin/sessions"

#: The longest session a client may ask for over HTTP: 30 days, in seconds.
MAX_TTL_SECONDS = 30 * 24 * 60 * 60


@attrs.frozen
class SessionRequest:
    """A session to issue for an active user (the host has checked who they are).

    ``ttl_seconds`` is how long the token lives, 1 second to 30 days
    (default 12 hours); ``user_agent`` and ``ip_address`` describe the
    client it is for.
    """

    user_id: UUID
    ttl_seconds: int = int(DEFAULT_SESSION_TTL.total_seconds())
    user_agent: str | None = None
    ip_address: str | None = None


@attrs.frozen
class SessionRevocation:
    """Why a session is revoked (kept on the session); the body may be left out."""

    reason: str | None = None


@attrs.frozen
class SessionsRevocation:
    """Revoke every live session of ``user_id``; ``reason`` is kept on each."""

    user_id: UUID
    reason: str | None = None


@attrs.frozen(kw_only=True)
class SessionView:
    """A session as the API shows it: every field but the hash of its token."""

    session_id: UUID
    user_id: UUID
    issued_at: datetime
    expires_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
    user_agent: str | None
    ip_address: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, session: Session) -> SessionView:
        """The view of ``session``."""
        return cls(**{f.name: getattr(session, f.name) for f in attrs.fields(cls)})


@attrs.frozen(kw_only=True)
class IssuedSessionView(SessionView):
    """A new session and its bearer token: the only time the token is ever sent."""

    token: str

    @classmethod
    def issued(cls, session: Session, token: str) -> IssuedSessionView:
        """The view of a session just issued, with its token."""
        shown = SessionView.of(session)
        return cls(token=token, **attrs.asdict(shown, recurse=False))


@attrs.frozen
class RevokedSessions:
    """How many of the user's sessions were revoked (those already revoked do not count)."""

    user_id: UUID
    revoked: int


def _issue(call: Call) -> IssuedSessionView:
    body: SessionRequest = call.body
    if not 1 <= body.ttl_seconds <= MAX_TTL_SECONDS:
        raise ValidationFailed(
            "ttl_seconds",
            f"must be between 1 and {MAX_TTL_SECONDS} (30 days)",
            value=body.ttl_seconds,
        )
    issued = call.velocity.sessions.issue(
        call.principal,
        body.user_id,
        ttl=timedelta(seconds=body.ttl_seconds),
        user_agent=body.user_agent,
        ip_address=body.ip_address,
    )
    return IssuedSessionView.issued(issued.session, issued.token)


def _reason_refused(refused: ValidationFailed) -> ValidationFailed:
    """The session's ``revoked_reason`` refused, as the body's ``reason`` it came from."""
    if refused.field == "revoked_reason":
        return ValidationFailed("reason", refused.reason, value=refused.value)
    return refused


def _revoke(call: Call) -> SessionView:
    body: SessionRevocation = call.body
    try:
        session = call.velocity.sessions.revoke(
            call.principal, call["session_id"], reason=body.reason
        )
    except ValidationFailed as refused:
        raise _reason_refused(refused) from None
    return SessionView.of(session)


def _revoke_all(call: Call) -> RevokedSessions:
    body: SessionsRevocation = call.body
    try:
        count = call.velocity.sessions.revoke_all(call.principal, body.user_id, reason=body.reason)
    except ValidationFailed as refused:
        raise _reason_refused(refused) from None
    return RevokedSessions(body.user_id, count)


_ID = Param("session_id", UUID, where="path", description="the session's session_id")

FAMILY = Family(
    name="identity.sessions",
    domain="identity",
    prefix=PREFIX,
    summary="Sessions: bearer tokens issued for users, and their revocation.",
    routes=(
        Route(
            "POST",
            "",
            "identity.sessions.issue",
            "Issue a session for an active user; the body holds its token, shown only now.",
            _issue,
            body=SessionRequest,
            returns=IssuedSessionView,
            status=201,
            errors=(NotFound,),
            secret=True,
        ),
        Route(
            "POST",
            "/revoke-all",
            "identity.sessions.revoke_all",
            "Revoke every live session of a user (one's own, or anyone's with manage).",
            _revoke_all,
            body=SessionsRevocation,
            returns=RevokedSessions,
        ),
        Route(
            "POST",
            "/{session_id}/revoke",
            "identity.sessions.revoke",
            "Revoke one session (one's own, or anyone's with manage; again: no change).",
            _revoke,
            params=(_ID,),
            body=SessionRevocation,
            returns=SessionView,
        ),
    ),
)
