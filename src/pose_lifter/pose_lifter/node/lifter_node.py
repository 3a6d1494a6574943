"""The ``pose_lifter`` lifecycle node: a thin shell around core.pipeline.Lifter (DESIGN §9).

configure: read parameters, build the backend and Lifter, warm up (FAILURE with the reason on a
bad model). activate: publishers, subscriptions (keypoints_2d synchronised with camera_info) and
a worker thread. Callbacks only put the newest input into a one-element slot; the worker lifts
all persons of a frame in one call and publishes skeletons_3d, markers and, from a timer,
/diagnostics. Every bad input is counted by reason, logged (throttled) and skipped.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from pose_lifter_msgs.msg import Skeleton2DArray, Skeleton3DArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo
from visualization_msgs.msg import MarkerArray

from ..core.backends import create_backend
from ..core.camera import InvalidIntrinsics, intrinsics
from ..core.diagnostics import LogThrottle, NodeStats
from ..core.markers import MarkerRegistry, MarkerStyle, delete_markers, skeleton_markers
from ..core.pipeline import Lifter
from ..core.sync import ApproximateSync, LatestSlot, header_stamp_ns
from ..core.undistort import CameraModel, UnknownDistortionModel, undistort_points
from ..resources import default_model
from . import convert
from .params import NAMES, RUNTIME, Settings, check, descriptor, load_defaults

try:  # message_filters comes with a full ROS install, not with the PyPI wheels
    import message_filters
except ImportError:  # pragma: no cover - depends on the installation
    message_filters = None

OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# A stamp this much older than the last processed one is a time reset (bag loop, sim time
# restart), not a late message: ordering restarts instead of skipping everything after it.
TIME_RESET_S = 1.0
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class PoseLifterNode(LifecycleNode):
    """Lifecycle node lifting Skeleton2DArray to Skeleton3DArray and RViz markers."""

    def __init__(self, node_name: str = 'pose_lifter', *,
                 defaults: dict[str, Any] | None = None,
                 backend_factory: Callable[..., Any] = create_backend, **kwargs):
        super().__init__(node_name, **kwargs)
        self._backend_factory = backend_factory
        self.add_on_set_parameters_callback(self._validate_parameters)
        for name, value in (defaults or load_defaults()).items():
            self.declare_parameter(name, value, descriptor(name))
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.lifter: Lifter | None = None
        self.stats = NodeStats()
        self._slot = LatestSlot()
        self._registry = MarkerRegistry()
        self._worker: threading.Thread | None = None
        self._subs: list[Any] = []
        self._pubs: dict[str, Any] = {}
        self._timer = None
        self._camera: tuple[tuple, CameraModel] | None = None
        self._last_stamp_ns: int | None = None
        self._last_header = convert.Header()
        self._s = self.settings()
        self._apply_parameters([])

    # ----------------------------------------------------------------- parameters
    def settings(self) -> Settings:
        return Settings.from_values({n: self.get_parameter(n).value for n in NAMES})

    def _validate_parameters(self, params) -> SetParametersResult:
        problems = [p for p in (check(q.name, q.value) for q in params) if p]
        return SetParametersResult(successful=not problems, reason='; '.join(problems))

    def _apply_parameters(self, params) -> None:
        """Runtime parameters take effect at once (the others at configure/activate)."""
        if params and not {p.name for p in params} & RUNTIME:
            return
        s = self.settings()
        # Non-runtime values keep what configure/activate read.
        self._s = dataclasses.replace(self._s, **{n: getattr(s, n) for n in RUNTIME})
        self._style = MarkerStyle(s.marker_bone_width, s.marker_joint_size,
                                  s.marker_lifetime_s, s.marker_alpha, s.gate_mode)
        self._throttle = LogThrottle(s.log_throttle_s)
        self._publish_markers = s.publish_markers
        if self.lifter is not None:
            self._tune(self.lifter, s)

    @staticmethod
    def _tune(lifter: Lifter, s: Settings) -> None:
        lifter.threshold = (lifter.contract.realism_threshold if s.use_model_threshold
                            else s.realism_threshold)
        lifter.min_valid_joints = s.min_valid_joints
        lifter.uncertainty_samples = s.uncertainty_samples
        lifter.anchor_to_rays = s.anchor_to_rays

    # ----------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self.settings()
        model = s.model or str(default_model())
        options = {'threads': s.threads, 'max_persons': s.max_persons, 'fp16': s.fp16}
        if s.engine_cache_dir:
            options['cache_dir'] = s.engine_cache_dir
        backend = None
        try:
            backend = self._backend_factory(model, s.backend, **options)
            lifter = Lifter(backend)
            self._tune(lifter, s)
            for batch in sorted({1, s.max_persons}):
                x = np.zeros((batch, lifter.contract.input_dim), np.float32)
                for _ in range(s.warmup_runs):
                    backend.infer(x)
        except Exception as exc:  # a bad model must never crash the node
            if backend is not None:
                backend.close()
            self.get_logger().error(f'configure failed: cannot use model {model!r} with '
                                    f'backend {s.backend!r}: {type(exc).__name__}: {exc}')
            return FAILURE
        self.lifter = lifter
        self.get_logger().info(
            f'configured: model {model}, backend {backend.describe()}, precision '
            f'{backend.precision}, realism threshold {lifter.threshold:.3f}')
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self._s = self.settings()
        self.stats = NodeStats()
        self._slot = LatestSlot()
        self._last_stamp_ns = None
        self._camera = None
        self._pubs = {
            'skeletons': self.create_publisher(Skeleton3DArray, 'skeletons_3d', OUTPUT_QOS),
            'markers': self.create_publisher(MarkerArray, 'markers', OUTPUT_QOS),
            'diagnostics': self.create_publisher(DiagnosticArray, '/diagnostics', OUTPUT_QOS),
        }
        self._subscribe(s)
        self._worker = threading.Thread(target=self._work, args=(self._slot,),
                                        name='pose_lifter_worker', daemon=True)
        self._worker.start()
        # Steady clock: diagnostics keep flowing under use_sim_time while /clock is paused.
        self._timer = self.create_timer(s.diagnostics_period_s, self._publish_diagnostics,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))
        sync = ('off' if not s.use_camera_info else
                'message_filters' if message_filters else 'core.sync')
        self.get_logger().info(f'active: keypoints_2d -> skeletons_3d, markers (camera_info '
                               f'sync: {sync})')
        return super().on_activate(state)

    def _subscribe(self, s: Settings) -> None:
        qos = qos_profile_sensor_data
        if not s.use_camera_info:
            self._subs = [self.create_subscription(Skeleton2DArray, 'keypoints_2d',
                                                   self._on_keypoints, qos)]
        elif message_filters is not None:
            subs = [message_filters.Subscriber(self, Skeleton2DArray, 'keypoints_2d',
                                               qos_profile=qos),
                    message_filters.Subscriber(self, CameraInfo, 'camera_info',
                                               qos_profile=qos)]
            self._sync = message_filters.ApproximateTimeSynchronizer(
                subs, s.sync_queue_size, s.sync_slop_s)
            self._sync.registerCallback(self._on_pair)
            self._subs = [getattr(f, 'sub', f) for f in subs]
        else:
            self._sync = ApproximateSync(2, s.sync_queue_size, s.sync_slop_s, self._on_pair)
            self._subs = [
                self.create_subscription(Skeleton2DArray, 'keypoints_2d',
                                         lambda m: self._sync.add(0, m), qos),
                self.create_subscription(CameraInfo, 'camera_info',
                                         lambda m: self._sync.add(1, m), qos)]

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        if self.lifter is not None:
            self.lifter.backend.close()
        self.lifter = None
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self.on_cleanup(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error('error during a transition; releasing everything')
        return self.on_cleanup(state)

    def _stop(self) -> None:
        """Stop the worker, delete markers on screen, destroy subscriptions and publishers."""
        self._slot.close()
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        markers = self._pubs.get('markers')
        gone = self._registry.clear()
        if markers is not None and gone and self.context.ok():
            markers.publish(convert.markers_to_msg(self._last_header, delete_markers(gone)))
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        self._pubs = {}

    # ----------------------------------------------------------------- input
    def _on_keypoints(self, msg) -> None:
        self._offer(msg, None)

    def _on_pair(self, keypoints, camera_info) -> None:
        self._offer(keypoints, camera_info)

    def _offer(self, keypoints, camera_info) -> None:
        if self._slot.put((keypoints, camera_info, time.perf_counter())):
            self.stats.set_dropped(self._slot.dropped)

    def _work(self, slot: LatestSlot) -> None:
        # its own slot: a worker outliving a deactivate never serves the next activation
        while (item := slot.take()) is not None:
            try:
                self._process(*item)
            except Exception as exc:  # the node never dies on input
                self._skip('internal_error', f'{type(exc).__name__}: {exc}\n'
                           f'{traceback.format_exc()}')

    def _skip(self, reason: str, detail: str) -> None:
        total = self.stats.skip(reason)
        if self._throttle.ready(reason, time.monotonic()):
            self.get_logger().warning(f'skipped input ({reason}, {total} so far): {detail}')

    def _camera_model(self, info) -> CameraModel:
        """CameraModel of a CameraInfo, cached while the calibration does not change."""
        key = (tuple(info.k), tuple(info.d), info.distortion_model, tuple(info.p))
        if self._camera is None or self._camera[0] != key:
            self._camera = (key, convert.camera_from_msg(info))
        return self._camera[1]

    # ----------------------------------------------------------------- processing
    def _process(self, msg, info, received_s: float) -> None:
        lifter = self.lifter
        if lifter is None:
            return
        s = self._s
        stamp = header_stamp_ns(msg)
        last = self._last_stamp_ns
        if last is not None and stamp < last:
            if last - stamp <= TIME_RESET_S * 1e9:
                return self._skip('out_of_order', f'stamp {stamp} ns is older than {last} ns')
            self.get_logger().warning('time jumped back; restarting stamp ordering')
        try:
            frame = convert.frame_from_msg(msg, s.max_persons)
            camera = (self._camera_model(info) if info is not None else
                      CameraModel(intrinsics(s.fx, s.fy, s.cx, s.cy), np.zeros(0)))
        except convert.BadInput as exc:
            return self._skip(exc.reason, str(exc))
        except InvalidIntrinsics as exc:
            return self._skip('bad_camera_info', str(exc))
        except UnknownDistortionModel as exc:
            return self._skip('unknown_distortion_model', str(exc))
        self._last_stamp_ns = stamp
        self._note(frame)
        if s.undistort:
            keypoints, K = undistort_points(frame.keypoints, camera), camera.K
        else:
            keypoints, K = frame.keypoints, camera.rectified_K()
        try:
            result = lifter.lift(keypoints, K, frame.confidence, frame.joint_format)
        except ValueError as exc:
            return self._skip('bad_input', str(exc))
        header = self._last_header = convert.output_header(msg.header)
        self._pubs['skeletons'].publish(convert.result_to_msg(header, frame.ids, result))
        if self._publish_markers:
            geometry = skeleton_markers(result.joints3d, result.plausible, frame.ids,
                                        self._registry, self._style)
            self._pubs['markers'].publish(convert.markers_to_msg(header, geometry))
        age = (self.get_clock().now().nanoseconds - stamp) / 1e9
        self.stats.record(time.perf_counter() - received_s, age, list(result.status))

    def _note(self, frame: convert.Frame2D) -> None:
        """Inputs that are served but worth counting (and a throttled log line)."""
        notes = {'zero_persons': int(len(frame.ids) == 0 and frame.truncated == 0),
                 'too_many_persons': frame.truncated, 'non_finite_persons': frame.non_finite}
        for reason, n in notes.items():
            if n:
                self.stats.note(reason, n)
        if frame.truncated and self._throttle.ready('too_many_persons', time.monotonic()):
            self.get_logger().warning(f'{frame.truncated} persons over max_persons dropped '
                                      '(most confident kept)')

    def _publish_diagnostics(self) -> None:
        lifter = self.lifter
        pub = self._pubs.get('diagnostics')
        if lifter is None or pub is None:
            return
        self.stats.set_dropped(self._slot.dropped)
        report = self.stats.report(time.monotonic(), lifter.backend.describe(),
                                   lifter.backend.precision, lifter.threshold)
        name = f'{self.get_fully_qualified_name().lstrip("/")}: lifting'
        pub.publish(convert.diagnostics_to_msg(self.get_clock().now().to_msg(), name,
                                               lifter.backend.describe(), report))

    # ----------------------------------------------------------------- start-up
    def autostart(self) -> bool:
        """configure + activate when the ``autostart`` parameter is true; True when active."""
        if not self.settings().autostart:
            self.get_logger().info('autostart is false: waiting for lifecycle transitions')
            return False
        if self.trigger_configure() != SUCCESS:
            self.get_logger().error('not activated: configure failed (fix the parameters, '
                                    'then configure and activate through the lifecycle '
                                    'services)')
            return False
        return self.trigger_activate() == SUCCESS

