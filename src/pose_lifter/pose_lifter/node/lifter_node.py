"""The ``pose_lifter`` lifecycle node: a thin shell around core.pipeline.Lifter
(docs/ros-interface.md).

configure: read parameters, start /diagnostics (a plain publisher and a steady timer, so a
failed configure is reported as ERROR), build the backend and Lifter, warm up (FAILURE with the
reason on a bad model), create skeletons_3d and markers as lifecycle publishers (they stay
until cleanup: inactive, they publish nothing but do not vanish). activate: subscriptions for
the input_format (node/sources.py; keypoints synchronised with camera_info) and a worker
thread. Callbacks only put the newest input into a one-element slot; the worker lifts all
persons of a frame in one call and publishes skeletons_3d and markers. Every bad input is
counted by reason, logged (throttled) and skipped. deactivate: subscriptions and worker stop,
markers on screen are deleted. cleanup/shutdown: publishers, timer and backend are released.
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
from pose_lifter_msgs.msg import Skeleton3DArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from visualization_msgs.msg import MarkerArray

from ..core.backends import create_backend
from ..core.camera import InvalidIntrinsics, intrinsics
from ..core.diagnostics import (
    InputMonitor,
    LogThrottle,
    NodeStats,
    Report,
    assess,
    input_condition,
)
from ..core.envelope import Envelope
from ..core.errors import PoseLifterInputError
from ..core.markers import MarkerRegistry, MarkerStyle, delete_markers, skeleton_markers
from ..core.pipeline import Lifter
from ..core.stamps import ACCEPT, StampGuard, Verdict
from ..core.sync import LatestSlot, header_stamp_ns
from ..core.temporal import TemporalFilter, from_parameters
from ..core.track_gate import TrackGate, TrackHistory, judge_frame
from ..core.undistort import CameraModel, UnknownDistortionModel, undistort_points
from ..resources import default_model
from . import convert, inputs, sources
from .params import NAMES, RUNTIME, Settings, check, descriptor, load_defaults, settings_problem

OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# /diagnostics: how often the level is re-evaluated (a change is published at once; the full
# report goes out every diagnostics_period_s).
DIAGNOSTICS_CHECK_S = 0.1
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
        self._marker_msgs = convert.MarkerMessages()
        self._worker: threading.Thread | None = None
        self._inputs: sources.Inputs | None = None
        self._pubs: dict[str, Any] = {}
        self._diag_pub = None
        self._timer = None
        self._active = False
        self._configure_error: str | None = None
        self._monitor: InputMonitor | None = None
        self._diag_last: tuple[float, tuple] = (-float('inf'), ())
        self._camera: tuple[tuple, CameraModel] | None = None
        self._stamp_lock = threading.Lock()
        self._last_header = convert.Header()
        self._track: tuple[TrackGate, TrackHistory] | None = None     # per activation
        self._temporal: TemporalFilter | None = None
        self._temporal_counts: dict[str, int] = {}
        self._s = self.settings()
        self._stamps = StampGuard(self._s.stamp_jump_ahead_s, self._s.stamp_reset_back_s)
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
                                  s.marker_lifetime_s, s.marker_alpha, s.gate_mode,
                                  s.marker_uncertainty)
        self._throttle = LogThrottle(s.log_throttle_s)
        self._publish_markers = s.publish_markers
        if self.lifter is not None:
            self._tune(self.lifter, s)

    @staticmethod
    def _tune(lifter: Lifter, s: Settings) -> None:
        lifter.threshold = (lifter.contract.realism_threshold if s.use_model_threshold
                            else s.realism_threshold)
        lifter.min_valid_joints = s.min_valid_joints
        lifter.min_confidence = s.min_confidence
        lifter.uncertainty_samples = s.uncertainty_samples
        lifter.anchor_to_rays = s.anchor_to_rays

    # ----------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self._s = self.settings()
        self._start_diagnostics(s)
        self._configure_error = None
        problem = settings_problem(s)
        if problem is None:
            try:
                sources.message_types(s.input_format)
            except sources.InputUnavailable as exc:
                problem = str(exc)
        if problem is not None:
            return self._configure_failed(problem)
        model = s.model or str(default_model())
        options = {'threads': s.threads, 'max_persons': s.max_persons, 'fp16': s.fp16}
        if s.engine_cache_dir:
            options['cache_dir'] = s.engine_cache_dir
        backend = None
        try:
            backend = self._backend_factory(model, s.backend, **options)
            lifter = Lifter(backend, envelope=Envelope(
                s.envelope_image_margin, s.envelope_min_depth_m, s.envelope_max_depth_m,
                s.envelope_max_size_ratio))
            self._tune(lifter, s)
            for batch in sorted({1, s.max_persons}):
                x = np.zeros((batch, lifter.contract.input_dim), np.float32)
                for _ in range(s.warmup_runs):
                    backend.infer(x)
        except Exception as exc:  # a bad model must never crash the node
            if backend is not None:
                backend.close()
            return self._configure_failed(f'cannot use model {model!r} with backend '
                                          f'{s.backend!r}: {type(exc).__name__}: {exc}')
        self.lifter = lifter
        self._pubs = {
            'skeletons': self.create_lifecycle_publisher(Skeleton3DArray, 'skeletons_3d',
                                                         OUTPUT_QOS),
            'markers': self.create_lifecycle_publisher(MarkerArray, 'markers', OUTPUT_QOS),
        }
        self.get_logger().info(
            f'configured: model {model}, backend {backend.describe()}, precision '
            f'{backend.precision}, realism threshold {lifter.threshold:.3f}')
        return SUCCESS

    def _configure_failed(self, reason: str) -> TransitionCallbackReturn:
        """FAILURE with the reason in the log and as ERROR on /diagnostics."""
        self._configure_error = reason
        self.get_logger().error(f'configure failed: {reason}')
        self._publish_diagnostics(force=True)
        return FAILURE

    def _start_diagnostics(self, s: Settings) -> None:
        """/diagnostics from configure on: a plain publisher (a lifecycle one would stay
        silent outside active, and a failed configure must be reported) and a steady timer
        (diagnostics keep flowing under use_sim_time while /clock is paused)."""
        if self._diag_pub is None:
            self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', OUTPUT_QOS)
        if self._timer is not None:
            self.destroy_timer(self._timer)
        self._timer = self.create_timer(min(DIAGNOSTICS_CHECK_S, s.diagnostics_period_s),
                                        self._on_diagnostics_timer,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._diag_last = (-float('inf'), ())

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self._s = self.settings()
        problem = settings_problem(s)
        if problem is not None:
            self.get_logger().error(f'activate failed: {problem}')
            return FAILURE
        try:
            self._track = self._track_gate(s)
        except ValueError as exc:
            self.get_logger().error(f"activate failed: the model's track gate: {exc} (or set "
                                    'track_gate:=false)')
            return FAILURE
        result = super().on_activate(state)     # lifecycle publishers on before any input
        if result != SUCCESS:
            return result
        self.stats = NodeStats()
        self._slot = LatestSlot()
        # input stamp order (core/stamps.py): the stamp_* parameters, read here
        self._stamps = StampGuard(s.stamp_jump_ahead_s, s.stamp_reset_back_s)
        self._camera = None
        self._temporal, self._temporal_counts = from_parameters(dataclasses.asdict(s)), {}
        self._monitor = InputMonitor(time.monotonic(), s.use_camera_info)
        try:
            self._inputs = sources.Inputs(self, s, self._offer, self._monitor, self._skip)
        except sources.InputUnavailable as exc:
            self.get_logger().error(f'activate failed: {exc}')
            super().on_deactivate(state)
            return FAILURE
        self._worker = threading.Thread(target=self._work, args=(self._slot,),
                                        name='pose_lifter_worker', daemon=True)
        self._worker.start()
        self._active = True
        self.get_logger().info(f'active: {self._inputs.topics} -> skeletons_3d, markers '
                               f'(camera_info sync: {self._inputs.sync})')
        return SUCCESS

    def _track_gate(self, s: Settings) -> tuple[TrackGate, TrackHistory] | None:
        """The model's track gate and an empty history, or None (off, or the model has
        none). Raises ValueError for a track gate this version cannot use."""
        spec = self.lifter.contract.track_gate if self.lifter is not None else {}
        if not (s.track_gate and spec):
            return None
        gate = TrackGate.from_dict(spec)
        return gate, TrackHistory(gate.max_gap_s)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self._release()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self.on_cleanup(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error('error during a transition; releasing everything')
        return self.on_cleanup(state)

    def _stop(self) -> None:
        """Stop the inputs and the worker, delete markers on screen (publishers stay)."""
        self._active = False
        self._slot.close()
        if self._inputs is not None:
            self._inputs.close()
            self._inputs = None
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        markers = self._pubs.get('markers')
        gone = self._registry.clear()
        self._marker_msgs.clear()
        if markers is not None and gone and self.context.ok():
            from rclpy.duration import Duration
            markers.publish(convert.markers_to_msg(self._last_header, delete_markers(gone)))
            # the process may end right after: let reliable subscribers (RViz) get the DELETE
            markers.wait_for_all_acked(Duration(seconds=1.0))

    def _release(self) -> None:
        """Destroy publishers and the diagnostics timer, free the backend (cleanup)."""
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
            self._diag_pub = None
        if self.lifter is not None:
            self.lifter.backend.close()
        self.lifter = None
        self._configure_error = None

    # ----------------------------------------------------------------- input
    def _offer(self, keypoints, camera_info) -> None:
        # stamps are judged on arrival (core/stamps.py), so frames the slot sheds still count
        # as the stream's pace; only frames in order reach the slot
        now = time.perf_counter()
        try:
            stamp = header_stamp_ns(keypoints)
        except (AttributeError, TypeError, ValueError):   # never raise in a callback: the
            stamp = None                                    # worker counts what fails there
        with self._stamp_lock:
            verdict = self._stamps.check(stamp, now) if stamp is not None else Verdict(ACCEPT)
            if verdict.action == ACCEPT and stamp is not None:
                self._stamps.accept(stamp, now)
        if verdict.action != ACCEPT:     # out_of_order or stamp_jump: counted, throttled log
            return self._skip(verdict.action, verdict.detail)
        if verdict.note:                 # a confirmed time jump: counted, throttled log
            self.stats.note(verdict.note)
            if self._throttle.ready(verdict.note, time.monotonic()):
                self.get_logger().warning(f'{verdict.note.replace("_", " ")}: {verdict.detail}')
        if self._slot.put((keypoints, camera_info, now)):
            self.stats.set_dropped(self._slot.dropped)

    def _work(self, slot: LatestSlot) -> None:
        # its own slot: a worker outliving a deactivate never serves the next activation
        while (item := slot.take()) is not None:
            try:
                self._process(*item)
            except Exception as exc:  # the node never dies on input
                if not self.context.ok():   # context shut down under the worker: just stop
                    return
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
        try:
            if info is not None:
                inputs.check_camera_frame(msg.header.frame_id, info.header.frame_id)
            frame = sources.read_frame(s.input_format, msg, info, s.max_persons)
            camera = (self._camera_model(info) if info is not None else
                      CameraModel(intrinsics(s.fx, s.fy, s.cx, s.cy), np.zeros(0)))
        except convert.BadInput as exc:
            return self._skip(exc.reason, str(exc))
        except InvalidIntrinsics as exc:
            return self._skip('bad_camera_info', str(exc))
        except UnknownDistortionModel as exc:
            return self._skip('unknown_distortion_model', str(exc))
        self._note(frame)
        if s.undistort:
            # (a camera without distortion: the keypoints themselves, no copy to check twice)
            keypoints = undistort_points(frame.keypoints, camera) if camera.distorted else \
                frame.keypoints
            K = camera.K
        else:
            keypoints, K = frame.keypoints, camera.rectified_K()
        # the detector's pixels against CameraInfo width/height (0: unknown, no image check)
        size = None if info is None else (info.width, info.height)
        try:
            result = lifter.lift(keypoints, K, frame.confidence, frame.joint_format, size,
                                 image_points=frame.keypoints)
        except PoseLifterInputError as exc:      # any other exception is a bug: internal_error
            return self._skip('bad_input', str(exc))
        header = convert.output_header(msg.header)
        if not header.frame_id and info is not None:     # e.g. an unstamped detector frame
            header.frame_id = info.header.frame_id.lstrip('/')
        self._last_header = header
        if self._track is not None:
            self._judge_over_time(header.frame_id, stamp, frame, result, lifter)
        if self._temporal is not None:       # plausible persons only (the others pass)
            result.joints3d = self._temporal.update(header.frame_id, stamp, frame.ids,
                                                    result.joints3d, use=result.plausible)
            self._temporal_counts = dict(self._temporal.counts)   # for /diagnostics
        self._pubs['skeletons'].publish(convert.result_to_msg(header, frame.ids, result))
        # markers only for someone who looks (RViz): building them costs about as much as
        # the rest of the frame's conversions
        if self._publish_markers and self._pubs['markers'].get_subscription_count() > 0:
            geometry = skeleton_markers(result.joints3d, result.plausible, frame.ids,
                                        self._registry, self._style, radii=result.uncertainty,
                                        inferred=result.inferred)
            self._pubs['markers'].publish(self._marker_msgs(header, geometry))
        age = (self.get_clock().now().nanoseconds - stamp) / 1e9
        self.stats.record(time.perf_counter() - received_s, age, list(result.status))

    def _judge_over_time(self, frame_id: str, stamp: int, frame: convert.Frame2D,
                         result, lifter: Lifter) -> None:
        """Realism, status and plausible of ``result`` from the track gate (core/track_gate.py);
        the accepted persons become their tracks' reference."""
        gate, history = self._track
        result.realism, result.status, result.plausible, _ = judge_frame(
            gate, history, frame_id, frame.ids, stamp, frame.joint_format, frame.keypoints,
            frame.confidence, lifter.min_confidence, result.realism, result.status,
            lifter.threshold)

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

    def _track_state(self, s: Settings) -> str:
        if self._track is not None:
            return 'on'
        if s.track_gate and self.lifter is not None and not self.lifter.contract.track_gate:
            return 'off (the model has none)'
        return 'off'

    def _on_diagnostics_timer(self) -> None:
        # no parameter: rclpy's EventsExecutor passes a TimerInfo to a callback that takes one,
        # which would arrive as ``force`` and publish the full report every check
        self._publish_diagnostics()

    def _publish_diagnostics(self, force: bool = False) -> None:
        """Every DIAGNOSTICS_CHECK_S: publish when diagnostics_period_s has passed or the
        level changed (so WARN/STALE/ERROR show at once)."""
        pub, lifter, s = self._diag_pub, self.lifter, self._s
        if pub is None:
            return
        now = time.monotonic()
        active, monitor = self._active, self._monitor
        inputs = (input_condition(monitor.state(now), s.stale_after_s, s.sync_slop_s)
                  if active and monitor is not None else None)
        key = (self._configure_error is None, active, None if inputs is None else inputs.level)
        last_s, last_key = self._diag_last
        if not force and key == last_key and now - last_s < s.diagnostics_period_s - 1e-3:
            return
        self._diag_last = (now, key)
        stats, hardware = None, s.backend
        values = {'model': s.model or str(default_model()), 'backend': s.backend}
        if lifter is not None:
            hardware = lifter.backend.describe()
            self.stats.set_dropped(self._slot.dropped)
            stats = self.stats.report(now, hardware, lifter.backend.precision, lifter.threshold)
            values = stats.values
        values = {**values, 'input_format': s.input_format,
                  'camera_info_sync': sources.sync_kind(s),
                  'temporal_filter': 'on' if self._temporal is not None else 'off',
                  'track_gate': self._track_state(s),
                  **{f'temporal_{k}': str(v) for k, v in self._temporal_counts.items()}}
        status = assess(self._configure_error, active, inputs, stats)
        name = f'{self.get_fully_qualified_name().lstrip("/")}: lifting'
        report = Report(status.level, status.message, values)
        pub.publish(convert.diagnostics_to_msg(self.get_clock().now().to_msg(), name,
                                               hardware, report))

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

