"""The node's inputs for each ``input_format``: subscriptions, camera_info sync, ROS4HRI bodies.

``Inputs`` subscribes what the format needs, synchronises the keypoints with ``camera_info``
(message_filters' ApproximateTimeSynchronizer where it is installed, core.sync otherwise; the
same slop rule), reports arrivals to the InputMonitor behind /diagnostics and hands each
(keypoints, camera_info) pair to the node. ``read_frame`` turns what was handed over into a
Frame2D (node/inputs.py, pure). Topics:

- pose_lifter, yolo_ros: ``keypoints_2d`` (Skeleton2DArray / yolo_msgs/DetectionArray) and
  ``camera_info``, both relative (remappable, namespaced per camera).
- hri: ``/humans/bodies/tracked`` (hri_msgs/IdsList), one ``/humans/bodies/<id>/skeleton2d``
  (hri_msgs/Skeleton2D) subscription per tracked body, made and dropped as the list changes,
  and ``camera_info`` (its width/height de-normalise the points). The bodies of one image are
  gathered by node.inputs.BodyBatcher and lifted as one batch; an empty tracked list gives an
  empty output (stamped by the list, or now when it has no stamp) without waiting for a
  camera_info.
"""
from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo

from ..core.diagnostics import InputMonitor
from ..core.errors import clip
from ..core.sequence import SequenceGaps
from ..core.sync import ApproximateSync, header_stamp_ns, slop_ns
from . import convert, inputs
from .params import Settings

try:  # message_filters comes with a full ROS install (and the repository's ../shared wheels)
    import message_filters
except ImportError:  # pragma: no cover - depends on the installation
    message_filters = None

TRACKED_TOPIC = '/humans/bodies/tracked'
# input_format -> (module, message types it needs, how to get it)
MESSAGES = {
    'pose_lifter': ('pose_lifter_msgs.msg', ('Skeleton2DArray',), 'build src/pose_lifter_msgs'),
    'yolo_ros': ('yolo_msgs.msg', ('DetectionArray',),
                 'build yolo_msgs from the yolo_ros repository (mgonzs13/yolo_ros)'),
    'hri': ('hri_msgs.msg', ('IdsList', 'Skeleton2D'),
            'build hri_msgs (ros4hri/hri_msgs) or install ros-<distro>-hri-msgs'),
}


class WithMessageInfo:
    """A subscription callback that gets each message's MessageInfo: ``on_info(info)``, then
    ``on_message(msg)``.

    rclpy hands a callback of two parameters (msg, info). Its SingleThreadedExecutor calls it
    with two arguments; the EventsExecutor of rclpy 9 calls it with one, the (msg, info) tuple
    that ``take_message`` returned. A message is never a tuple, so both are told apart."""

    __signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY) for name in ('msg', 'info')])

    def __init__(self, on_message: Callable[[Any], None], on_info: Callable[[Any], None]):
        self.on_message, self.on_info = on_message, on_info

    def __call__(self, *args: Any) -> None:
        msg, info = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        self.on_info(info)
        self.on_message(msg)


class InputUnavailable(RuntimeError):
    """The message package an input_format needs is not installed."""


def message_types(input_format: str) -> tuple[Any, ...]:
    """The message classes of ``input_format``; raises InputUnavailable with what to do."""
    module, names, how = MESSAGES[input_format]
    try:
        mod = importlib.import_module(module)
        return tuple(getattr(mod, n) for n in names)
    except (ImportError, AttributeError) as exc:
        raise InputUnavailable(f'input_format {input_format} needs {module} '
                               f'({type(exc).__name__}: {exc}); {how}') from None


def sync_kind(s: Settings) -> str:
    """Which synchroniser the node uses: off | message_filters | core.sync."""
    if not s.use_camera_info:
        return 'off'
    return 'message_filters' if message_filters is not None else 'core.sync'


def read_frame(input_format: str, msg: Any, info: Any, max_persons: int) -> inputs.Frame2D:
    """What Inputs handed over (message or BodyBatch, CameraInfo or None) -> Frame2D.

    Raises inputs.BadInput with the reason to count.
    """
    if input_format == 'yolo_ros':
        return inputs.frame_from_detections(msg, max_persons)[0]
    if input_format == 'hri':
        size = (0, 0) if info is None else (int(info.width), int(info.height))
        return inputs.frame_from_bodies(msg.bodies, *size, max_persons)
    return convert.frame_from_msg(msg, max_persons)


class Inputs:
    """Subscriptions of one activation; ``deliver(keypoints, camera_info_or_None)``."""

    def __init__(self, node: Any, s: Settings, deliver: Callable[[Any, Any], None],
                 monitor: InputMonitor, skip: Callable[[str, str], None]):
        types = message_types(s.input_format)
        self.node, self.format, self.sync = node, s.input_format, sync_kind(s)
        self._deliver, self._monitor, self._skip = deliver, monitor, skip
        self._qos = qos_profile_sensor_data
        self._subs: list[Any] = []
        self._bodies: dict[str, Any] = {}
        self._closed = False
        # keypoints frames lost before the callback, from publication sequence numbers (when
        # the RMW gives them; then they replace the message_lost event on that topic)
        self._gaps = SequenceGaps()
        self._counting_gaps = False
        if self.sync == 'message_filters':
            self._filters = [message_filters.SimpleFilter(), message_filters.SimpleFilter()]
            self._sync = message_filters.ApproximateTimeSynchronizer(
                self._filters, s.sync_queue_size, s.sync_slop_s)
            self._sync.registerCallback(self._on_pair)
            self._feed = lambda i, msg: self._filters[i].signalMessage(msg)
        elif self.sync == 'core.sync':
            self._sync = ApproximateSync(2, s.sync_queue_size, s.sync_slop_s, self._on_pair)
            self._feed = self._sync.add
        if self.sync != 'off':
            self._subs.append(self._subscribe(CameraInfo, 'camera_info', self._on_camera_info))
        if self.format == 'hri':
            ids_type, self._skeleton_type = types
            self._batcher = inputs.BodyBatcher(slop_ns(s.sync_slop_s))
            self._subs.append(self._subscribe(ids_type, TRACKED_TOPIC, self._on_tracked))
        else:
            self._subs.append(self._subscribe(types[0], 'keypoints_2d', self._on_keypoints,
                                              sequence=True))

    def _subscribe(self, msg_type: Any, topic: str, callback: Callable[[Any], None],
                   sequence: bool = False) -> Any:
        """A sensor-data (best-effort) subscription whose lost messages are counted
        (``message_lost``): with Fast DDS, best-effort samples over ~0.5 MB never arrive.
        ``sequence``: also count the messages that were replaced in the reader's queue before
        the executor took them, from the publishers' sequence numbers (``_count_gaps``)."""
        def lost(info, topic=topic) -> None:
            if sequence and self._counting_gaps:    # the sequence numbers count these too
                return
            for _ in range(max(1, int(info.total_count_change))):
                self._skip('message_lost', f'the transport lost a message on {topic} '
                           f'({info.total_count} so far; best-effort inputs over ~0.5 MB do '
                           'not arrive with Fast DDS)')
        if sequence:
            callback = WithMessageInfo(callback, partial(self._count_gaps, topic))
        try:
            return self.node.create_subscription(
                msg_type, topic, callback, self._qos,
                event_callbacks=SubscriptionEventCallbacks(message_lost=lost))
        except UnsupportedEventTypeError:   # an RMW without the event: losses go uncounted
            return self.node.create_subscription(msg_type, topic, callback, self._qos)

    def _count_gaps(self, topic: str, info: Any) -> None:
        """Count the messages a publisher sent between this sample and its previous one."""
        try:
            seq, gid = info['publication_sequence_number'], info['publisher_gid']
            key = bytes(gid['data'])
        except (KeyError, TypeError):
            seq = key = None
        if seq is None or key is None:         # this RMW does not say: the event counts alone
            self._counting_gaps = False
            return
        self._counting_gaps = True
        missed = self._gaps.observe(key, seq)
        for _ in range(missed):
            self._skip('message_lost', f'{missed} message(s) on {topic} never reached the node '
                       '(lost in transport or replaced in the subscription queue: the node took '
                       'messages slower than they came)')

    @property
    def topics(self) -> str:
        if self.format == 'hri':
            return f'{TRACKED_TOPIC} + /humans/bodies/<id>/skeleton2d'
        return f'keypoints_2d ({self.format})'

    def close(self) -> None:
        """Destroy every subscription; later messages are ignored."""
        self._closed = True
        for sub in self._subs + list(self._bodies.values()):
            self.node.destroy_subscription(sub)
        self._subs, self._bodies = [], {}

    # ------------------------------------------------------------------ keypoints and sync
    def _on_keypoints(self, msg: Any) -> None:
        if self._closed:
            return
        self._monitor.keypoints(header_stamp_ns(msg), time.monotonic())
        if self.sync == 'off':
            self._deliver(msg, None)
        else:
            self._feed(0, msg)

    def _on_camera_info(self, msg: Any) -> None:
        if self._closed:
            return
        self._monitor.camera_info(header_stamp_ns(msg), time.monotonic())
        self._feed(1, msg)

    def _on_pair(self, keypoints: Any, camera_info: Any) -> None:
        self._monitor.matched(time.monotonic())
        self._deliver(keypoints, camera_info)

    # ------------------------------------------------------------------ ROS4HRI bodies
    def _on_tracked(self, msg: Any) -> None:
        if self._closed:
            return
        ids = []
        for body in msg.ids:
            if inputs.valid_body_id(body):
                ids.append(body)
            else:
                self._skip('bad_body_id', f'body id {clip(body)} cannot be a topic name')
        for body in set(self._bodies) - set(ids):
            self.node.destroy_subscription(self._bodies.pop(body))
        for body in ids:
            if body not in self._bodies:
                self._bodies[body] = self._subscribe(
                    self._skeleton_type, inputs.body_topic(body), partial(self._on_body, body))
        stamp = header_stamp_ns(msg)
        if stamp == 0:      # an unstamped list: an empty output is stamped now
            msg.header.stamp = self.node.get_clock().now().to_msg()
            stamp = header_stamp_ns(msg)
        for batch in self._batcher.track(ids, stamp, msg.header):
            self._on_batch(batch)

    def _on_body(self, body: str, msg: Any) -> None:
        if self._closed:
            return
        for batch in self._batcher.add(body, header_stamp_ns(msg), msg, msg.header):
            self._on_batch(batch)

    def _on_batch(self, batch: inputs.BodyBatch) -> None:
        if batch.bodies:
            self._on_keypoints(batch)
            return
        now = time.monotonic()      # nobody there: nothing to de-normalise, no camera needed
        self._monitor.keypoints(batch.stamp_ns, now)
        self._monitor.matched(now)
        self._deliver(batch, None)
