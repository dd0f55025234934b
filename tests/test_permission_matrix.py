"""Every operation, for every default role, on both stores: allowed or denied as the matrix says."""

from __future__ import annotations

from tests.support.matrix import MATRIX, ROWS
from tests.support.world import World
from velocity_domain.access.operations import OPERATIONS
from velocity_domain.errors import PermissionDenied


def test_the_matrix_covers_every_registered_operation() -> None:
    assert set(MATRIX) == set(OPERATIONS)


def test_every_cell_of_the_matrix_holds(world: World) -> None:
    velocity = world.velocity
    wrong: list[str] = []
    for operation, row in sorted(ROWS.items()):
        for role, principal in sorted(world.by_role.items()):
            try:
                row.call(velocity, world, principal)
                outcome = "allowed"
            except PermissionDenied as err:
                assert err.permission, "a denial names the missing permission"
                outcome = "denied"
            expected = "allowed" if role in row.allowed else "denied"
            if outcome != expected:
                wrong.append(f"{operation} for {role}: {outcome}, matrix says {expected}")
    assert wrong == []
