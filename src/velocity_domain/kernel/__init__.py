"""The shared kernel: ids, clocks, normalisers, pagination and lifecycles.

Everything here is free of I/O and of the domain packages; the six canonical
domains, the services and the adapters all build on it.
"""

from velocity_domain.kernel.clock import Clock, FixedClock, SystemClock, ensure_utc
from velocity_domain.kernel.ids import new_id, uuid7_time_ms
from velocity_domain.kernel.lifecycle import Lifecycle
from velocity_domain.kernel.normalize import (
    DEFAULT_PHONE_REGION,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from velocity_domain.kernel.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CursorCodec,
    Page,
    PageRequest,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PHONE_REGION",
    "MAX_PAGE_SIZE",
    "Clock",
    "CursorCodec",
    "FixedClock",
    "Lifecycle",
    "Page",
    "PageRequest",
    "SystemClock",
    "ensure_utc",
    "new_id",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "uuid7_time_ms",
]
