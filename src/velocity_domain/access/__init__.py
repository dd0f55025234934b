"""Access control: principals, the permission catalogue, visibility, redaction, audit."""

from velocity_domain.access.principal import Principal, PrincipalKind

__all__ = ["Principal", "PrincipalKind"]
