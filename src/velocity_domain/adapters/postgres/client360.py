"""Client 360 on PostgreSQL: every part of one client's view in one statement.

The statement follows the merges from the person asked for to its survivor
(a recursive CTE, as many hops as the generic path follows), checks that
the principal sees every person on the way, and the related people, with
the visibility filter the generic path uses (compiled once per filter into
the statement), and reads
each part as a scalar subquery over the index of its table on the client.
A part comes back as a JSON array of rows, each row an array of its
columns in the entity's field order; numerics travel as text so that no
digit is lost. The rows are then built as a table read builds them
(:func:`~velocity_domain.kernel.tableinfo.trusted_builder`), with UUIDs,
``Decimal`` values, dates and UTC timestamps restored; JSON documents come
back as the driver would give them.

The page of interactions is exactly ``uow.intel.timeline``'s: the same
keyset, limit and cursor. Its cursor names the client, which is known only
once the merges are followed; a cursor that does not fit the person asked
for (one asked for by a merged person's id) costs a second statement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres.jsonrows import JsonRows, seen_select, table_sql
from velocity_domain.client_graph.ports import Client360Reader, Client360Rows
from velocity_domain.crm.entities import (
    Account,
    Household,
    Lead,
    MergeStatus,
    Opportunity,
    Person,
    PersonMerge,
    PropertyInterest,
    Relationship,
    StagedEntity,
)
from velocity_domain.errors import ValidationFailed
from velocity_domain.intel.entities import (
    Channel,
    Interaction,
    QdScore,
    Reminder,
    ReminderStatus,
    Visit,
)
from velocity_domain.inventory.entities import Project, Unit
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.pagination import Page
from velocity_domain.kernel.query import (
    Eq,
    Filter,
    PreparedQuery,
    Query,
    desc,
    plain,
    prepare,
)
from velocity_domain.kernel.tableinfo import table_info

if TYPE_CHECKING:
    from velocity_domain.adapters.postgres.store import PostgresTransaction

__all__ = ["EXTENSIONS", "PostgresClient360"]

E = TypeVar("E", bound=Entity)


_PEOPLE = JsonRows(Person)
_HOUSEHOLDS = JsonRows(Household)
_RELATIONSHIPS = JsonRows(Relationship)
_LEADS = JsonRows(Lead)
_DEALS = JsonRows(Opportunity)
_ACCOUNTS = JsonRows(Account)
_INTERESTS = JsonRows(PropertyInterest)
_PROJECTS = JsonRows(Project)
_UNITS = JsonRows(Unit)
_INTERACTIONS = JsonRows(Interaction)
_VISITS = JsonRows(Visit)
_TASKS = JsonRows(Reminder)
_QD = JsonRows(QdScore)
_MERGES = JsonRows(PersonMerge)

#: The tables the statement reads, by the name its templates give them.
_TABLES = {
    "people": "crm_people",
    "households": "crm_households",
    "relationships": "crm_relationships",
    "leads": "crm_leads",
    "deals": "crm_opportunities",
    "accounts": "crm_accounts",
    "interests": "crm_property_interests",
    "projects": "inventory_projects",
    "units": "inventory_units",
    "interactions": "intel_interactions",
    "visits": "intel_visits",
    "tasks": "intel_reminders",
    "qd": "intel_qd_scores",
    "merges": "crm_person_merges",
    "stages": "crm_stage_history",
}

#: The rows as JSON arrays, by the name the templates give them.
_ROW_JSON = {
    "client_row": _PEOPLE.json("c"),
    "lead_row": _LEADS.json("l"),
    "deal_row": _DEALS.json("o"),
    "account_row": _ACCOUNTS.json("a"),
    "household_row": _HOUSEHOLDS.json("h"),
    "member_row": _PEOPLE.json("m"),
    "relationship_row": _RELATIONSHIPS.json("r"),
    "interest_row": _INTERESTS.json("i"),
    "project_row": _PROJECTS.json("x"),
    "unit_row": _UNITS.json("x"),
    "interaction_row": _INTERACTIONS.json("i"),
    "visit_row": _VISITS.json("v"),
    "task_row": _TASKS.json("k"),
    "qd_row": _QD.json("q"),
    "merge_row": _MERGES.json("g"),
}

#: What the statement returns, one JSON value per part of the view (one array in all), in
#: the order :meth:`PostgresClient360._rows` reads them, each with the part whose permission
#: it needs (``None``: always read). The client is ``c``; ``{seen_*}`` keeps the visible
#: people; ``{held}`` selects the accounts' ids.
_VALUES: tuple[tuple[str | None, str], ...] = (
    (None, "{client_row}"),
    ("leads", "(SELECT json_agg({lead_row}) FROM {leads} AS l WHERE l.person_id = c.person_id)"),
    (
        "opportunities",
        "(SELECT json_agg({deal_row}) FROM {deals} AS o WHERE o.person_id = c.person_id)",
    ),
    (
        "opportunities",
        """(SELECT json_agg(json_build_array(o.opportunity_id, s.changed_at))
        FROM {deals} AS o
        CROSS JOIN LATERAL (SELECT max(h.changed_at) AS changed_at FROM {stages} AS h
                            WHERE h.entity_type = %(staged)s AND h.entity_id = o.opportunity_id)
                           AS s
        WHERE o.person_id = c.person_id AND s.changed_at IS NOT NULL)""",
    ),
    (
        "accounts",
        """(SELECT json_agg((SELECT {account_row} FROM {accounts} AS a
                            WHERE a.account_id = held.account_id))
        FROM ({held}) AS held WHERE held.account_id IS NOT NULL)""",
    ),
    (
        None,
        "(SELECT {household_row} FROM {households} AS h WHERE h.household_id = c.household_id)",
    ),
    (
        None,
        """(SELECT json_agg({member_row}) FROM {people} AS m
        WHERE m.household_id = c.household_id AND m.merged_into_person_id IS NULL{seen_member})""",
    ),
    (
        None,
        """(SELECT json_agg({relationship_row}) FROM {relationships} AS r
        WHERE r.from_person_id = c.person_id{seen_to})""",
    ),
    (
        None,
        """(SELECT json_agg({relationship_row}) FROM {relationships} AS r
        WHERE r.to_person_id = c.person_id{seen_from})""",
    ),
    (
        None,
        "(SELECT json_agg({interest_row}) FROM {interests} AS i WHERE i.person_id = c.person_id)",
    ),
    (
        "inventory",
        """(SELECT json_agg((SELECT {project_row} FROM {projects} AS x
                            WHERE x.project_id = named.project_id))
        FROM (SELECT DISTINCT i.project_id FROM {interests} AS i
              WHERE i.person_id = c.person_id) AS named)""",
    ),
    (
        "inventory",
        """(SELECT json_agg((SELECT {unit_row} FROM {units} AS x WHERE x.unit_id = named.unit_id))
        FROM (SELECT DISTINCT i.unit_id FROM {interests} AS i
              WHERE i.person_id = c.person_id) AS named)""",
    ),
    (
        "interactions",
        """(SELECT json_agg({interaction_row} ORDER BY i.happened_at DESC, i.interaction_id DESC)
        FROM (SELECT k.interaction_id FROM {interactions} AS k
              WHERE k.person_id = c.person_id{keyset}
              ORDER BY k.happened_at DESC, k.interaction_id DESC LIMIT %(limit)s) AS page
        JOIN {interactions} AS i ON i.interaction_id = page.interaction_id)""",
    ),
    (
        "interactions",
        """(SELECT json_build_array({channel_counts}) FROM {interactions} AS i
        WHERE i.person_id = c.person_id)""",
    ),
    ("visits", "(SELECT json_agg({visit_row}) FROM {visits} AS v WHERE v.person_id = c.person_id)"),
    (
        "tasks",
        """(SELECT json_agg({task_row}) FROM {tasks} AS k
        WHERE k.person_id = c.person_id AND k.status = %(open)s)""",
    ),
    (
        "qd",
        """(SELECT json_agg({qd_row}) FROM {qd} AS q
        WHERE q.person_id = c.person_id AND q.interaction_id IS NULL)""",
    ),
    (
        None,
        """(SELECT json_agg({merge_row}) FROM {merges} AS g
        WHERE g.survivor_person_id = c.person_id AND g.status = %(executed)s)""",
    ),
)

#: The accounts' ids, from the parts the principal reads.
_HELD = {
    "leads": "SELECT l.account_id FROM {leads} AS l WHERE l.person_id = c.person_id",
    "opportunities": "SELECT o.account_id FROM {deals} AS o WHERE o.person_id = c.person_id",
}
_SEEN_ONLY = " AND {} IN (SELECT person_id FROM seen)"
_KEYSET = " AND (k.happened_at, k.interaction_id) < (%(after_at)s, %(after_id)s)"
#: The channels, each counted in one pass over the client's interactions (no sort, no hash).
_CHANNELS = tuple(Channel)
_CHANNEL_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE i.channel = %(channel_{n})s)" for n in range(len(_CHANNELS))
)

#: The client: the person asked for, followed along its merges to the survivor.
_CHAIN = """WITH RECURSIVE chain AS (
    SELECT 1 AS hop, p.* FROM {people} AS p WHERE p.person_id = %(client)s
    UNION ALL
    SELECT chain.hop + 1, p.*
    FROM chain JOIN {people} AS p ON p.person_id = chain.merged_into_person_id
    WHERE chain.hop < %(hops)s
), client AS (
    SELECT * FROM chain WHERE merged_into_person_id IS NULL
)"""

#: Which of the people the view names the principal sees (the way to the client, the
#: household's members, the relationships' other ends), tested as the generic path does.
_SEEN = """, named AS (
    SELECT person_id FROM chain
    UNION ALL
    SELECT m.person_id FROM {people} AS m
    WHERE m.household_id = (SELECT household_id FROM client) AND m.merged_into_person_id IS NULL
    UNION ALL
    SELECT r.to_person_id FROM {relationships} AS r
    WHERE r.from_person_id = (SELECT person_id FROM client)
    UNION ALL
    SELECT r.from_person_id FROM {relationships} AS r
    WHERE r.to_person_id = (SELECT person_id FROM client)
), seen AS (
{seen}
)"""

#: The client is found only when the principal sees every person on the way to it.
_ALL_SEEN = """
WHERE NOT EXISTS (SELECT 1 FROM chain AS h
                  WHERE NOT EXISTS (SELECT 1 FROM seen WHERE seen.person_id = h.person_id))"""

_STATEMENT = """SELECT found.parts FROM (
{head}
SELECT json_build_array({values}) AS parts
FROM client AS c{gate}
) AS found"""


#: The statement's parameters that never change.
_CONSTANTS: dict[str, Any] = {
    "staged": StagedEntity.OPPORTUNITY.value,
    "open": ReminderStatus.OPEN.value,
    "executed": MergeStatus.EXECUTED.value,
    **{f"channel_{n}": channel.value for n, channel in enumerate(_CHANNELS)},
}


@functools.cache
def _names(schema: str | None) -> dict[str, str]:
    """The tables' names as SQL, in ``schema`` (``None``: the search path's)."""
    return {key: table_sql(table, schema) for key, table in _TABLES.items()}


@functools.lru_cache(maxsize=256)
def _statement(schema: str | None, parts: frozenset[str], seen: str | None, after: bool) -> str:
    """The statement for one shape of call: which parts, which visibility, a keyset or not.

    It starts with ``SELECT`` (its CTEs are inside), as every read of the store does.
    """
    names = _names(schema)
    held = " UNION ".join(_HELD[part] for part in _HELD if part in parts)
    restricted = seen is not None
    values = {
        **names,
        **_ROW_JSON,
        "channel_counts": _CHANNEL_COUNTS,
        "held": held.format(**names),
        "keyset": _KEYSET if after else "",
        "seen_member": _SEEN_ONLY.format("m.person_id") if restricted else "",
        "seen_to": _SEEN_ONLY.format("r.to_person_id") if restricted else "",
        "seen_from": _SEEN_ONLY.format("r.from_person_id") if restricted else "",
    }

    def read(part: str | None) -> bool:
        # The accounts are those of the leads and deals read: none when neither is.
        return part is None or (part in parts and (part != "accounts" or bool(held)))

    parts_sql = [template.format(**values) if read(part) else "NULL" for part, template in _VALUES]
    head = _CHAIN.format(**names)
    if restricted:
        head += _SEEN.format(**names, seen=seen)
    return _STATEMENT.format(
        head=head, values=",\n       ".join(parts_sql), gate=_ALL_SEEN if restricted else ""
    )


def _timeline(person_id: UUID, size: int, cursor: str | None) -> PreparedQuery:
    """The listing ``uow.intel.timeline`` runs for the client's page, prepared."""
    info = table_info(Interaction)
    order = (desc("happened_at"), desc("interaction_id"))
    query = Query((Eq("person_id", person_id),), order, size, cursor)
    return prepare(info.name, info.optional, info.key_field, query)


class PostgresClient360:
    """Every part of a client's view in one statement (see ``Client360Reader``)."""

    def __init__(self, tx: PostgresTransaction) -> None:
        self._tx = tx

    def read(
        self,
        client_id: UUID,
        *,
        visible: Filter | None,
        parts: Collection[str],
        interactions: int,
        cursor: str | None,
        merge_hops: int,
    ) -> Client360Rows | None:
        """The rows of ``client_id``'s view, or ``None`` when it is not found (one statement)."""
        wanted = frozenset(parts)
        paging = "interactions" in wanted and cursor is not None
        after: tuple[Any, ...] | None = None
        if paging:
            try:
                after = self._after(_timeline(client_id, interactions, cursor))
            except ValidationFailed:
                after = None  # perhaps the survivor's cursor: known once the client is
        found = self._run(
            client_id, visible, wanted, size=interactions, after=after, hops=merge_hops
        )
        if found is None:
            return None
        person = _PEOPLE.one(found.parts[0])
        if paging and (after is None or person.key != client_id):
            # The cursor must fit the survivor's listing, as the generic path decodes it.
            after = self._after(_timeline(person.key, interactions, cursor))
            found = self._run(person.key, visible, wanted, size=interactions, after=after, hops=1)
            if found is None:
                return None
        return self._rows(found, interactions, cursor if paging else None)

    def _after(self, prepared: PreparedQuery) -> tuple[Any, ...]:
        """The sort key the cursor of ``prepared`` continues after (the listing's own checks)."""
        assert prepared.cursor is not None
        after = self._tx.store.codec.decode(prepared.cursor, prepared.scope)
        if len(after) != len(prepared.order_by):
            raise ValidationFailed("cursor", "does not fit this listing's order")
        return after

    def _run(
        self,
        client_id: UUID,
        visible: Filter | None,
        parts: frozenset[str],
        *,
        size: int,
        after: tuple[Any, ...] | None,
        hops: int,
    ) -> sa.Row[Any] | None:
        """The statement's one row for ``client_id``, or ``None`` when it is not found."""
        connection = self._tx.connection
        schema = self._tx.store.schema
        params = {**_CONSTANTS, "client": client_id, "hops": hops, "limit": size + 1}
        seen = None
        if visible is not None:
            seen, bound = seen_select(visible, schema, connection.dialect)
            params.update(bound)
        if after is not None:
            params["after_at"], params["after_id"] = after
        statement = _statement(schema, parts, seen, after is not None)
        with self._tx.translating():
            return connection.exec_driver_sql(statement, params).first()

    def _rows(self, found: sa.Row[Any], size: int, cursor: str | None) -> Client360Rows:
        (
            person,
            leads,
            deals,
            stages,
            accounts,
            household,
            members,
            outgoing,
            incoming,
            interests,
            projects,
            units,
            interactions,
            channels,
            visits,
            tasks,
            qd,
            merges,
        ) = found.parts
        client = _PEOPLE.one(person)
        return Client360Rows(
            person=client,
            leads=_LEADS.many(leads),
            opportunities=_DEALS.many(deals),
            stage_changed={UUID(k): datetime.fromisoformat(at) for k, at in stages or ()},
            accounts=_ACCOUNTS.many(accounts),
            household=None if household is None else _HOUSEHOLDS.one(household),
            household_members=_PEOPLE.many(members),
            relationships_from=_RELATIONSHIPS.many(outgoing),
            relationships_to=_RELATIONSHIPS.many(incoming),
            interests=_INTERESTS.many(interests),
            projects={p.key: p for p in _PROJECTS.many(projects)},
            units={u.key: u for u in _UNITS.many(units)},
            interactions=self._page(client.key, _INTERACTIONS.many(interactions), size, cursor),
            interactions_by_channel=_counts(channels),
            visits=_VISITS.many(visits),
            open_tasks=_TASKS.many(tasks),
            qd=_QD.many(qd),
            merged_from=_MERGES.many(merges),
        )

    def _page(
        self, person_id: UUID, rows: tuple[Interaction, ...], size: int, cursor: str | None
    ) -> Page[Interaction]:
        """The page of the timeline from its rows (one more than ``size`` when more follow)."""
        if len(rows) <= size:
            return Page(rows, None)
        prepared = _timeline(person_id, size, cursor)
        last = rows[size - 1]
        values = [plain(getattr(last, k.field)) for k in prepared.order_by]
        return Page(rows[:size], self._tx.store.codec.encode(prepared.scope, values))


def _counts(counts: Sequence[int] | None) -> dict[Channel, int]:
    """The channels' counts the statement sends, those above zero (``None``: not read)."""
    if counts is None:
        return {}
    return {channel: n for channel, n in zip(_CHANNELS, counts, strict=True) if n}


#: The steps this module does its own way, by port.
EXTENSIONS: dict[type[Any], Callable[[PostgresTransaction], Any]] = {
    Client360Reader: PostgresClient360,
}
