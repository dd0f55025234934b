from __future__ import annotations

import enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from velocity_domain.errors import InvalidTransition
from velocity_domain.kernel import Lifecycle


class Batch(enum.StrEnum):
    UPLOADED = "uploaded"
    PARSED = "parsed"
    COMMITTED = "committed"
    FAILED = "failed"


TABLE = {
    Batch.UPLOADED: {Batch.PARSED, Batch.FAILED},
    Batch.PARSED: {Batch.COMMITTED, Batch.FAILED},
}
batch = Lifecycle("import batch", TABLE)


def test_allowed_moves_return_the_target() -> None:
    assert batch.transition(Batch.UPLOADED, Batch.PARSED) is Batch.PARSED
    assert batch.allowed(Batch.PARSED) == {Batch.COMMITTED, Batch.FAILED}


def test_states_missing_from_the_table_are_terminal() -> None:
    assert batch.is_terminal(Batch.COMMITTED)
    assert batch.is_terminal(Batch.FAILED)
    assert not batch.is_terminal(Batch.UPLOADED)


def test_an_illegal_move_names_current_target_and_allowed() -> None:
    with pytest.raises(InvalidTransition) as err:
        batch.transition(Batch.UPLOADED, Batch.COMMITTED)
    assert err.value.lifecycle == "import batch"
    assert err.value.current is Batch.UPLOADED
    assert err.value.target is Batch.COMMITTED
    assert err.value.allowed == ("failed", "parsed")
    assert "allowed: failed, parsed" in str(err.value)
    assert err.value.to_dict()["current"] == "uploaded"


def test_a_table_mixing_enums_is_refused() -> None:
    class Other(enum.Enum):
        X = "x"

    with pytest.raises(ValueError, match="is not a"):
        Lifecycle("bad", {Batch.UPLOADED: {Other.X}})  # type: ignore[dict-item]


@given(st.lists(st.sampled_from(list(Batch)), max_size=12))
def test_random_walks_succeed_exactly_on_table_edges(steps: list[Batch]) -> None:
    state = Batch.UPLOADED
    for target in steps:
        legal = target in TABLE.get(state, set())
        try:
            state = batch.transition(state, target)
        except InvalidTransition as err:
            assert not legal
            assert err.current is state
        else:
            assert legal
            assert state is target
