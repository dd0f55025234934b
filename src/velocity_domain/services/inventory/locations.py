"""Where projects are: their map pins, the projects of a micro-market, the projects near a point.

:class:`LocationService` keeps the ``inventory_location_index`` (one pin per
project) and answers the location searches of ``velocity.inventory``; the
distance search narrows the rows with latitude and longitude bounding boxes
(:mod:`.geo`), so PostgreSQL can use its (latitude, longitude) index, and
orders the projects inside the radius by their haversine distance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.service import Service, serves
from velocity_domain.inventory.entities import LocationIndex, Project
from velocity_domain.kernel.arguments import coordinate_arg, number_arg
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Query, asc
from velocity_domain.services.inventory.geo import (
    MAX_RADIUS_KM,
    bounding_boxes,
    geohash,
    haversine_km,
)

__all__ = ["LocationService", "NearbyProject"]

READ = "inventory.read"
WRITE = "inventory.write"
SET_LOCATION = register("inventory.locations.set", WRITE, "set a project's map pin")
IN_MICRO_MARKET = register(
    "inventory.locations.in_micro_market", READ, "projects located in a micro-market"
)
NEAR = register("inventory.locations.near", READ, "projects within a radius, nearest first")


@attrs.frozen
class NearbyProject:
    """A project found by :meth:`InventoryService.projects_near`, with its distance."""

    project: Project
    location: LocationIndex
    distance_km: float


class LocationService(Service):
    """Project map pins and the searches by micro-market and by distance."""

    @serves(None)
    def set_location(
        self,
        principal: Principal,
        project_id: UUID,
        *,
        latitude: Decimal | float,
        longitude: Decimal | float,
        city: str | None = None,
        micro_market: str | None = None,
        locality: str | None = None,
    ) -> LocationIndex:
        """Set a project's map pin (one row per project); place names default to the project's."""
        with self._begin(principal, SET_LOCATION) as uow:
            lat = coordinate_arg(latitude, "latitude", 90)
            lon = coordinate_arg(longitude, "longitude", 180)
            project = uow.inventory.projects.get(project_id)
            values: dict[str, Any] = {
                "latitude": lat,
                "longitude": lon,
                "geohash": geohash(float(lat), float(lon)),
                "city": city if city is not None else project.city,
                "micro_market": micro_market if micro_market is not None else project.micro_market,
                "locality": locality,
            }
            found = uow.inventory.locations.list(Query((Eq("project_id", project.key),), limit=1))
            before = found.items[0] if found.items else None
            if before is None:
                now = self.clock.now()
                after = LocationIndex(
                    project_id=project.key, created_at=now, updated_at=now, **values
                )
                uow.inventory.locations.add(after)
            else:
                after = uow.inventory.locations.update(attrs.evolve(before, **values))
            self._audit(
                uow,
                principal,
                SET_LOCATION.name,
                target_domain="inventory",
                target_ref=project.key,
                before=before,
                after=after,
            )
            uow.commit()
        return after

    @serves(None)
    def projects_in_micro_market(
        self,
        principal: Principal,
        micro_market: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Project]:
        """The projects whose location lies in ``micro_market``, by project id."""
        with self._begin(principal, IN_MICRO_MARKET) as uow:
            if not micro_market.strip():
                raise ValidationFailed("micro_market", "must be a non-empty string")
            query = Query((Eq("micro_market", micro_market),), (asc("project_id"),), limit, cursor)
            page = uow.inventory.locations.list(query)
            projects = uow.inventory.projects.get_many(row.project_id for row in page)
            items = tuple(projects[row.project_id] for row in page if row.project_id in projects)
            return Page(items, page.next_cursor)

    @serves(None)
    def projects_near(
        self,
        principal: Principal,
        latitude: Decimal | float,
        longitude: Decimal | float,
        radius_km: Decimal | float,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> list[NearbyProject]:
        """Projects within ``radius_km`` of a point, nearest first (haversine distance).

        A bounding box on latitude and longitude narrows the rows first, so
        PostgreSQL can use its (latitude, longitude) index.
        """
        with self._begin(principal, NEAR) as uow:
            lat = number_arg(latitude, "latitude", -90, 90)
            lon = number_arg(longitude, "longitude", -180, 180)
            radius = number_arg(radius_km, "radius_km", 0, MAX_RADIUS_KM)
            if radius <= 0:
                raise ValidationFailed("radius_km", "must be greater than 0")
            if not 0 < limit <= MAX_PAGE_SIZE:
                raise ValidationFailed("limit", f"must be an integer from 1 to {MAX_PAGE_SIZE}")
            hits: list[tuple[float, LocationIndex]] = []
            for box in bounding_boxes(lat, lon, radius):
                cursor: str | None = None
                while True:
                    page = uow.inventory.locations.list(Query(box, (), MAX_PAGE_SIZE, cursor))
                    for row in page:
                        km = haversine_km(lat, lon, float(row.latitude), float(row.longitude))
                        if km <= radius:
                            hits.append((km, row))
                    cursor = page.next_cursor
                    if cursor is None:
                        break
            hits.sort(key=lambda hit: (hit[0], hit[1].project_id))
            hits = hits[:limit]
            projects = uow.inventory.projects.get_many(row.project_id for _, row in hits)
            return [
                NearbyProject(projects[row.project_id], row, km)
                for km, row in hits
                if row.project_id in projects
            ]
