"""Property-based tests over the entry points: whatever they are given, each returns what it
documents or raises its module's own error, never anything else (see targets.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.targets import TARGETS, Target

# Damaged images make Pillow warn (a TIFF tag past the end, a "decompression bomb" header):
# the outcome is what is asserted.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:PIL"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@given(data=st.data())
def test_entry_point_gives_its_documented_outcome(target: Target, data: st.DataObject) -> None:
    """A value of the documented shape (asserted by the target) or the documented error."""
    value = data.draw(target.strategy, label=target.name)
    try:
        target.call(value)
    except target.expected:
        return
