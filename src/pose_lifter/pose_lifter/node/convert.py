"""Messages <-> arrays, at the node's boundary (the only place that reads or builds messages).

Builders pass plain Python ``float``/``bool`` to message fields: numpy scalars are stored
unchecked and serialise as garbage (see tests/test_msgs.py).
"""
from __future__ import annotations

import array
from collections.abc import Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point
from pose_lifter_msgs.msg import Skeleton2D, Skeleton2DArray, Skeleton3D, Skeleton3DArray
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ..core.adapters import num_joints
from ..core.diagnostics import Report
from ..core.markers import ADD, LINE_LIST, MarkerGeometry
from ..core.pipeline import LiftResult
from ..core.skeleton import H36M17
from ..core.undistort import CameraModel
from .inputs import BadInput, Frame2D, frame_from_arrays, select_persons  # noqa: F401

OUTPUT_FORMAT = H36M17.name
_NAMES = H36M17.joint_names


def frame_from_msg(msg, max_persons: int) -> Frame2D:
    """pose_lifter_msgs/Skeleton2DArray -> Frame2D.

    Raises BadInput('unknown_joint_format' | 'bad_lengths'). An empty ``confidence`` means
    every joint is present; otherwise x, y and confidence must each have J entries.
    """
    try:
        j = num_joints(msg.joint_format)
    except ValueError as exc:
        raise BadInput('unknown_joint_format', str(exc)) from None
    n = len(msg.skeletons)
    kp = np.empty((n, j, 2))
    conf = np.ones((n, j))
    for i, skel in enumerate(msg.skeletons):
        lengths = (len(skel.x), len(skel.y), len(skel.confidence))
        if lengths[0] != j or lengths[1] != j or lengths[2] not in (0, j):
            raise BadInput('bad_lengths', f'person {i}: x/y/confidence have {lengths} '
                           f'entries, {msg.joint_format} needs {j}')
        kp[i, :, 0] = skel.x
        kp[i, :, 1] = skel.y
        if lengths[2]:
            conf[i] = skel.confidence
    return frame_from_arrays(kp, conf, [s.id for s in msg.skeletons], msg.joint_format,
                             max_persons)


def camera_from_msg(msg) -> CameraModel:
    """sensor_msgs/CameraInfo -> CameraModel (raises InvalidIntrinsics, UnknownDistortionModel)."""
    return CameraModel.from_arrays(np.asarray(msg.k), np.asarray(msg.d), msg.distortion_model,
                                   np.asarray(msg.p))


def frame_to_msg(header: Header, keypoints: np.ndarray, confidence: np.ndarray | None = None,
                 ids: Sequence[str] | None = None, joint_format: str = 'h36m17'
                 ) -> Skeleton2DArray:
    """The reverse of ``frame_from_msg`` (for publishers: bench, bag tools, tests).

    keypoints: (N, J, 2) pixels; confidence: (N, J) or None (all 1); ids: N strings or None.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    conf = np.ones(kp.shape[:2], np.float32) if confidence is None else confidence
    out = Skeleton2DArray(header=header, joint_format=joint_format)
    for n in range(len(kp)):
        out.skeletons.append(Skeleton2D(id='' if ids is None else ids[n], x=_f32(kp[n, :, 0]),
                                        y=_f32(kp[n, :, 1]), confidence=_f32(conf[n])))
    return out


def camera_info_msg(header: Header, K: np.ndarray, D: Sequence[float] = (),
                    distortion_model: str = 'plumb_bob', width: int = 1920,
                    height: int = 1080) -> CameraInfo:
    """sensor_msgs/CameraInfo of a camera without rectification (P = [K | 0])."""
    K = np.asarray(K, dtype=np.float64)
    P = np.hstack([K, np.zeros((3, 1))])
    return CameraInfo(header=header, width=width, height=height,
                      distortion_model=distortion_model, d=[float(v) for v in D],
                      k=K.ravel().tolist(), r=np.eye(3).ravel().tolist(), p=P.ravel().tolist())


def output_header(header) -> Header:
    """The input's stamp and frame (REP-103 optical frame), without a leading '/'."""
    return Header(stamp=header.stamp, frame_id=header.frame_id.lstrip('/'))


def points_msg(xyz: np.ndarray) -> list[Point]:
    """(M, 3) metres -> M geometry_msgs/Point.

    The hot loop of the node's output (17 per skeleton, 49 per person's markers): the points
    are made without the generated constructor's keyword parsing and per-field asserts, which
    only check what ``tolist()`` guarantees (Python floats); 3-4x faster, the same bytes on the
    wire (tests/node/test_bench_floor.py).
    """
    new = Point.__new__
    out = []
    for x, y, z in np.asarray(xyz, dtype=np.float64).reshape(-1, 3).tolist():
        p = new(Point)
        p._x, p._y, p._z, p._check_fields = x, y, z, False
        out.append(p)
    return out


def _f32(values: np.ndarray) -> array.array:
    return array.array('f', np.ascontiguousarray(values, dtype=np.float32).tobytes())


def result_to_msg(header: Header, ids: Sequence[str], result: LiftResult) -> Skeleton3DArray:
    """LiftResult of N persons -> Skeleton3DArray; persons that were not lifted carry no
    joints. joint_uncertainty and root_covariance are filled only when the result has them;
    inferred_joints names the lifted joints that were not in the input."""
    out = Skeleton3DArray(header=header, joint_format=OUTPUT_FORMAT)
    for n in range(len(result)):
        joints = result.joints3d[n]
        lifted = bool(np.isfinite(joints).all())
        skel = Skeleton3D(id=ids[n], realism=float(result.realism[n]),
                          plausible=bool(result.plausible[n]), status=str(result.status[n]))
        if lifted:
            skel.joints = points_msg(joints)
            if result.uncertainty is not None:
                skel.joint_uncertainty = _f32(result.uncertainty[n])
            if result.root_covariance is not None:
                skel.root_covariance = array.array(
                    'd', np.ascontiguousarray(result.root_covariance[n], np.float64).tobytes())
            if result.inferred is not None and result.inferred[n].any():
                skel.inferred_joints = [_NAMES[j] for j in np.flatnonzero(result.inferred[n])]
        out.skeletons.append(skel)
    return out


class MarkerMessages:
    """Marker geometry -> visualization_msgs/MarkerArray, keeping each drawn marker's message
    from one frame to the next and refilling it (building a Marker costs more than filling
    one: ~15-25 us per constructor call here, two per person). rclpy serialises on publish, so
    a message may change once published. A DELETE forgets its marker; ``clear`` forgets all.
    """

    def __init__(self) -> None:
        self._drawn: dict[tuple[str, int], Marker] = {}

    def clear(self) -> None:
        self._drawn.clear()

    def __call__(self, header: Header, geometry: Sequence[MarkerGeometry]) -> MarkerArray:
        markers = []
        for g in geometry:
            key = (g.ns, int(g.id))
            if g.action != ADD:
                self._drawn.pop(key, None)
                markers.append(Marker(header=header, ns=g.ns, id=key[1], action=Marker.DELETE))
                continue
            m = self._drawn.get(key)
            if m is None:
                m = self._drawn[key] = Marker(ns=g.ns, id=key[1], action=Marker.ADD)
                m.pose.orientation.w = 1.0
            m.header = header
            m.type = Marker.LINE_LIST if g.kind == LINE_LIST else Marker.SPHERE_LIST
            m.scale.x = float(g.scale)
            m.scale.y = m.scale.z = float(g.scale) if m.type == Marker.SPHERE_LIST else 0.0
            m.color.r, m.color.g, m.color.b, m.color.a = (float(c) for c in g.color)
            sec = int(g.lifetime_s)
            m.lifetime.sec, m.lifetime.nanosec = sec, int(round((g.lifetime_s - sec) * 1e9))
            m.points = points_msg(g.points)
            m.colors = [] if g.colors is None else [
                ColorRGBA(r=r, g=gg, b=b, a=a)
                for r, gg, b, a in np.asarray(g.colors, dtype=np.float64).tolist()]
            markers.append(m)
        return MarkerArray(markers=markers)


def markers_to_msg(header: Header, geometry: Sequence[MarkerGeometry]) -> MarkerArray:
    """Plain marker geometry -> visualization_msgs/MarkerArray in ``header``'s frame (fresh
    messages; the node keeps a ``MarkerMessages``)."""
    return MarkerMessages()(header, geometry)


def diagnostics_to_msg(stamp, name: str, hardware_id: str, report: Report) -> DiagnosticArray:
    """core.diagnostics.Report -> diagnostic_msgs/DiagnosticArray with one status."""
    status = DiagnosticStatus(level=bytes([report.level]), name=name, message=report.message,
                              hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=v) for k, v in report.values.items()])
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])
