"""pose_lifter_msgs: the four §4 messages exist with the agreed fields and survive CDR.

rclpy.serialization needs no rclpy.init() and no DDS, so these run anywhere the package is
built (scripts/build_msgs.sh in a venv, or a sourced colcon workspace).
"""

import array
import math

import numpy as np
import pytest

pytest.importorskip('rclpy')
msg = pytest.importorskip(
    'pose_lifter_msgs.msg', reason='pose_lifter_msgs not built (run scripts/build_msgs.sh)'
)

from geometry_msgs.msg import Point  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402

# The contract of DESIGN.md §4, as rosidl reports it.
EXPECTED_FIELDS = {
    'Skeleton2D': {
        'id': 'string',
        'x': 'sequence<float>',
        'y': 'sequence<float>',
        'confidence': 'sequence<float>',
    },
    'Skeleton2DArray': {
        'header': 'std_msgs/Header',
        'joint_format': 'string',
        'skeletons': 'sequence<pose_lifter_msgs/Skeleton2D>',
    },
    'Skeleton3D': {
        'id': 'string',
        'joints': 'sequence<geometry_msgs/Point>',
        'joint_uncertainty': 'sequence<float>',
        'root_covariance': 'double[9]',
        'inferred_joints': 'sequence<string>',
        'realism': 'float',
        'plausible': 'boolean',
        'status': 'string',
    },
    'Skeleton3DArray': {
        'header': 'std_msgs/Header',
        'joint_format': 'string',
        'skeletons': 'sequence<pose_lifter_msgs/Skeleton3D>',
    },
}


def round_trip(message):
    return deserialize_message(serialize_message(message), type(message))


def as_float32_field(values: np.ndarray) -> array.array:
    """(J,) numpy -> the array('f') a float32[] field holds, without a Python float loop."""
    return array.array('f', np.ascontiguousarray(values, dtype=np.float32).tobytes())


@pytest.mark.parametrize('name', sorted(EXPECTED_FIELDS))
def test_fields_match_design(name):
    assert getattr(msg, name).get_fields_and_field_types() == EXPECTED_FIELDS[name]


def test_skeleton2d_array_round_trip():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1920, size=(2, 17, 2)).astype(np.float32)  # (N, J, 2) pixels
    conf = rng.uniform(0, 1, size=(2, 17)).astype(np.float32)  # (N, J)
    conf[1, 3] = np.nan  # NaN marks a missing joint and must survive

    out = msg.Skeleton2DArray(joint_format='coco17')
    out.header.stamp.sec, out.header.stamp.nanosec = 12, 345
    out.header.frame_id = 'camera_optical_frame'
    for n in range(2):
        out.skeletons.append(
            msg.Skeleton2D(
                id=f'track{n}',
                x=as_float32_field(xy[n, :, 0]),
                y=as_float32_field(xy[n, :, 1]),
                confidence=as_float32_field(conf[n]),
            )
        )

    back = round_trip(out)

    # (no `back == out`: NaN != NaN)
    assert back.header.frame_id == 'camera_optical_frame'
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (12, 345)
    assert back.joint_format == 'coco17'
    assert [s.id for s in back.skeletons] == ['track0', 'track1']
    for n, skel in enumerate(back.skeletons):
        for field in (skel.x, skel.y, skel.confidence):
            assert isinstance(field, array.array) and field.typecode == 'f'
        np.testing.assert_array_equal(np.frombuffer(skel.x, dtype=np.float32), xy[n, :, 0])
        np.testing.assert_array_equal(np.frombuffer(skel.y, dtype=np.float32), xy[n, :, 1])
        np.testing.assert_array_equal(np.frombuffer(skel.confidence, np.float32), conf[n])
    assert math.isnan(back.skeletons[1].confidence[3])


def test_skeleton3d_array_round_trip():
    joints = np.linspace(-1.0, 1.0, 17 * 3).reshape(17, 3)  # (J, 3) metres
    out = msg.Skeleton3DArray(joint_format='h36m17')
    out.header.frame_id = 'camera_optical_frame'
    out.skeletons = [
        msg.Skeleton3D(
            id='track0',
            joints=[Point(x=x, y=y, z=z) for x, y, z in joints.tolist()],
            joint_uncertainty=as_float32_field(np.full(17, 0.05)),
            realism=0.75,
            plausible=True,
            status='ok',
        ),
        msg.Skeleton3D(id='track1', realism=-0.25, plausible=False, status='implausible'),
    ]

    back = round_trip(out)

    assert back == out
    ok, rejected = back.skeletons
    assert all(isinstance(p, Point) for p in ok.joints)
    # geometry_msgs/Point is float64: the joints come back bit-exact.
    np.testing.assert_array_equal([[p.x, p.y, p.z] for p in ok.joints], joints)
    assert ok.joint_uncertainty.typecode == 'f' and len(ok.joint_uncertainty) == 17
    assert isinstance(ok.realism, float) and ok.realism == 0.75
    assert ok.plausible is True and ok.status == 'ok'
    assert rejected.plausible is False and rejected.status == 'implausible'
    assert len(rejected.joints) == 0 and len(rejected.joint_uncertainty) == 0


def test_realism_is_float32_on_the_wire():
    back = round_trip(msg.Skeleton3D(realism=0.3))
    assert back.realism == pytest.approx(0.3, abs=1e-7) and back.realism != 0.3


def test_field_checks_reject_numpy_scalars():
    """Converters must pass Python float/bool, never numpy scalars.

    Field checks are off unless ROS_PYTHON_CHECK_FIELDS=1, and then an np.float32 realism or
    Point coordinate, an int realism or an np.bool_ flag is stored unchecked and serialised
    as garbage (0.0 / False / denormals) without any error. With checks on they raise.
    """
    for bad in (
        dict(realism=np.float32(0.5)),
        dict(realism=1),
        dict(realism='high'),
        dict(plausible=np.bool_(True)),
    ):
        with pytest.raises(AssertionError):
            msg.Skeleton3D(check_fields=True, **bad)
    ok = msg.Skeleton3D(check_fields=True, realism=float(np.float32(0.5)), plausible=True)
    assert round_trip(ok).realism == 0.5

    skel = msg.Skeleton2D(check_fields=True)
    with pytest.raises(AssertionError):
        skel.x = np.ones(3, dtype=np.float32)  # an ndarray is no Sequence
    skel.x = as_float32_field(np.ones(3))
    assert list(round_trip(skel).x) == [1.0, 1.0, 1.0]
