"""One value-equality rule: diff, merge and the gates agree on when two values are the same data."""

from __future__ import annotations

import json
from typing import Any

from canonry.compare import diff, merge
from canonry.compare.diff import field_changes
from canonry.compare.merge import FIELD, merge_entry
from canonry.compare.values import same_value
from hypothesis import given, settings
from hypothesis import strategies as st

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e300]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "a", "1", "true", "0.0", "-0.0"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=8,
)


def written(value: Any) -> str:
    """The value as JSON with sorted keys: floats in their shortest round-trip form, -0.0 included."""
    return json.dumps(value, sort_keys=True)


def test_diff_and_merge_use_the_one_rule() -> None:
    assert diff.same_value is same_value
    assert merge.same is same_value


@settings(max_examples=300, deadline=None)
@given(values, values)
def test_same_value_is_equality_of_the_written_data(a: Any, b: Any) -> None:
    assert same_value(a, b) == (written(a) == written(b))
    assert same_value(a, b) == same_value(b, a)
    assert same_value(a, a)


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_diff_sees_a_change_exactly_when_merge_does(old: Any, new: Any) -> None:
    before, after = {"id": "e", "v": old}, {"id": "e", "v": new}
    changed = field_changes(before, after) != []
    assert changed == (not same_value(before, after))
    # a side equal to the base takes the other side, whatever the other side did
    merged, conflicts = merge_entry(before, before, after)
    assert conflicts == [] and same_value(merged, after)


def test_negative_zero_is_a_change_for_both() -> None:
    base, ours, theirs = {"id": "e", "x": 0.0}, {"id": "e", "x": -0.0}, {"id": "e", "x": 0.5}
    assert [r["op"] for r in field_changes(base, ours)] == ["replace"]
    merged, conflicts = merge_entry(base, ours, theirs)
    assert [c.kind for c in conflicts] == [FIELD], "ours' change to -0.0 must not be dropped silently"
    assert not same_value(1, 1.0) and not same_value(1, True) and not same_value(0.0, -0.0)
    assert same_value(float("nan"), float("nan")), "a value is the same as itself"
