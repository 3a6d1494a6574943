"""Frames lost before the node, from publication sequence numbers."""
import pytest

from pose_lifter.core.sequence import MAX_GAP, SequenceGaps


def test_gaps_per_publisher():
    gaps = SequenceGaps()
    assert gaps.observe('a', 1) == 0                  # first sample: nothing known before
    assert gaps.observe('a', 2) == 0
    assert gaps.observe('a', 5) == 2                  # 3 and 4 never arrived
    assert gaps.observe('b', 40) == 0                 # another publisher, its own numbers
    assert gaps.observe('a', 6) == 0 and gaps.observe('b', 43) == 2


def test_restarts_repeats_and_absurd_jumps_are_not_losses():
    gaps = SequenceGaps()
    gaps.observe('a', 100)
    assert gaps.observe('a', 1) == 0                  # publisher restarted
    assert gaps.observe('a', 1) == 0                  # repeated
    assert gaps.observe('a', 3 + MAX_GAP) == 0


def test_memory_is_bounded():
    gaps = SequenceGaps(max_publishers=2)
    gaps.observe('a', 1)
    gaps.observe('b', 1)
    gaps.observe('c', 1)                              # 'a' is forgotten
    assert gaps.observe('a', 5) == 0 and gaps.observe('c', 4) == 2
    with pytest.raises(ValueError):
        SequenceGaps(0)
