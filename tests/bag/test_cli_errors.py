"""``pose-lifter bag``: what counts as the user's error (one line, exit 2) and what is a bug
(its traceback kept). Only PoseLifterInputError, BagError, rosbags' own errors and OS errors on
files are reported as one line; any other exception -- a ValueError from a bug included --
propagates."""
from __future__ import annotations

from pathlib import Path

import pytest

from pose_lifter.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _one_line_error(capsys, rc: int, expected: str, code: int = 2) -> str:
    err = capsys.readouterr().err
    assert rc == code, err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    assert expected in err, err
    return err


@pytest.mark.parametrize('args, expected', [
    (['make', '{poses}', '--out', '{tmp}/m', '--drop-prob', '2'], '--drop-prob must be in [0, 1]'),
    (['make', '{poses}', '--out', '{tmp}/m', '--persons', '0'], '--persons must be >= 1'),
    (['make', '{tmp}/missing.npz', '--out', '{tmp}/m'], 'pose file not found'),
    (['make', '{readme}', '--out', '{tmp}/m'], 'not a readable pose .npz'),
    (['make', '{poses}', '--out', '/proc/no/such/bag', '--max-frames', '2'],
     'FileNotFoundError'),
    (['replay', '{tmp}/missing', '--out', '{tmp}/o', '--param', 'threads'],
     '--param wants KEY:=VALUE'),
    (['replay', '{tmp}/missing', '--out', '{tmp}/o'], 'bag not found'),
    (['score', '{tmp}/missing'], 'bag not found'),
], ids=['option-range', 'persons', 'missing-poses', 'not-npz', 'unwritable-out', 'bad-param',
        'missing-bag', 'score-missing-bag'])
def test_user_errors_are_one_line_exit_2(tmp_path, capsys, demo_poses, args, expected):
    fill = {'poses': str(demo_poses), 'tmp': str(tmp_path), 'readme': str(ROOT / 'README.md')}
    rc = main(['bag'] + [a.format(**fill) for a in args])
    _one_line_error(capsys, rc, expected)


@pytest.mark.parametrize('error', [ValueError('a bug'), KeyError('x'), TypeError('y')],
                         ids=['ValueError', 'KeyError', 'TypeError'])
def test_a_bug_keeps_its_traceback(tmp_path, demo_poses, monkeypatch, error):
    """A ValueError is not "bad input" by itself: before, every ValueError was one line."""
    import pose_lifter.bag.make as make

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(make, 'make_bag', broken)
    with pytest.raises(type(error)):
        main(['bag', 'make', str(demo_poses), '--out', str(tmp_path / 'm')])


def test_library_errors_are_one_line(tmp_path, demo_poses, monkeypatch, capsys):
    """rosbags' own errors (and OS errors) with a multi-line message: still one line."""
    from rosbags.rosbag2 import WriterError

    import pose_lifter.bag.make as make

    def broken(*args, **kwargs):
        raise WriterError('cannot write\nsecond line of the library message')

    monkeypatch.setattr(make, 'make_bag', broken)
    rc = main(['bag', 'make', str(demo_poses), '--out', str(tmp_path / 'm')])
    _one_line_error(capsys, rc, 'WriterError: cannot write second line')
