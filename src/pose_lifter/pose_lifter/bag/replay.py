"""``bag replay``: play a bag's keypoints and CameraInfo through the live node, record the
node's outputs.

Starts ``pose_lifter_node`` (use_sim_time, its own DDS domain, loopback only) or attaches to a
running node, waits (bounded) until the node subscribes to the inputs, its outputs are matched
and it has answered an empty probe frame (stamped 1 ms before the first input; its empty
output is recorded too), then publishes the bag's raw CDR at the recorded log times scaled by
``rate``, with ``/clock`` from the bag timeline. Gaps in the timeline longer than
``max_gap_s`` are cut to ``max_gap_s`` (reported), so a clock gap never stalls the replay.
Input messages that do not decode as their topic's type are skipped before the node starts
(a warning line, ``undecodable`` counts in the summary); an input topic with no decodable
message at all is a BagError (one line, exit 2).

The output bag holds the node's ``/skeletons_3d``, ``/markers`` and ``/diagnostics`` (log time
= receive time, wall clock), the inputs as published (log time = publish time, wall clock),
the input bag's ground truth when it has one, and custom_data ``pose_lifter_replay`` (JSON:
options, counts, compressed gaps, outcome). It is closed, readable, on every exit path.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .baselines import model_identity
from .io import (
    CAMERA_INFO,
    DIAGNOSTICS,
    GT,
    KEYPOINTS,
    MARKERS,
    META_MAKE,
    META_REPLAY,
    SKELETON3D_ARRAY,
    SKELETONS,
    BagError,
    BagReader,
    TopicSpec,
    custom_json,
    deserialize,
    open_writer,
    topic_name,
)
from .node_process import NodeProcess, pick_domain_id, ros_args
from .recorder import INPUT_TYPES, OUTPUT_TYPES, Recorder, header_stamp_ns
from .schedule import Schedule, load_schedule, probe_messages

POLL_S = 0.01
PROBE_PERIOD_S = 0.1


class ReplayError(BagError):
    """The replay could not finish; the output bag is still closed and readable."""


@dataclass
class ReplayOptions:
    """How ``bag replay`` runs (topic names as in the input bag / the node's graph)."""

    rate: float = 1.0
    model: str | None = None
    backend: str | None = None
    attach: bool = False
    keypoints_topic: str = KEYPOINTS
    camera_info_topic: str = CAMERA_INFO
    skeletons_topic: str = SKELETONS
    markers_topic: str = MARKERS
    diagnostics_topic: str = DIAGNOSTICS
    timeout_s: float | None = None        # whole replay; None: bag duration / rate + 60 s
    startup_timeout_s: float = 30.0       # node up and matched
    drain_s: float = 3.0                  # after the last input: wait this long for outputs
    max_gap_s: float = 2.0                # longer timeline gaps are cut to this
    domain_id: int | None = None
    node_params: dict[str, object] = field(default_factory=dict)


class _Replay:
    """One replay run: the recorder, the optional node child, the schedule."""

    def __init__(self, opts: ReplayOptions, schedule: Schedule, writer, out: Path,
                 log: Callable[[str], None]):
        self.opts, self.schedule, self.out, self.log = opts, schedule, out, log
        self.inputs = {topic_name(opts.keypoints_topic): INPUT_TYPES['keypoints'],
                       topic_name(opts.camera_info_topic): INPUT_TYPES['camera_info']}
        self.outputs = {topic_name(opts.skeletons_topic): OUTPUT_TYPES['skeletons'],
                        topic_name(opts.markers_topic): OUTPUT_TYPES['markers'],
                        topic_name(opts.diagnostics_topic): OUTPUT_TYPES['diagnostics']}
        env_domain = os.environ.get('ROS_DOMAIN_ID', '0') or '0'
        self.domain_id = opts.domain_id if opts.domain_id is not None else (
            int(env_domain) if opts.attach else pick_domain_id())
        os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'   # network rule
        self.node: NodeProcess | None = None
        self.rec = Recorder(self.domain_id, writer, self.inputs, self.outputs)
        self.published: list[int] = []

    def start_node(self) -> None:
        remap = {'keypoints_2d': topic_name(self.opts.keypoints_topic),
                 'camera_info': topic_name(self.opts.camera_info_topic),
                 'skeletons_3d': topic_name(self.opts.skeletons_topic),
                 'markers': topic_name(self.opts.markers_topic),
                 '/diagnostics': topic_name(self.opts.diagnostics_topic)}
        args = ros_args(self.opts.model, self.opts.backend, remap, self.opts.node_params)
        self.node = NodeProcess(args, self.domain_id, self.out / 'node.log')
        self.log(f'started node (pid {self.node.pid}, domain {self.domain_id}): '
                 f'{" ".join(self.node.command)}')

    def _node_problem(self) -> str | None:
        if self.node is not None and (code := self.node.exited()) is not None:
            return f'the node exited with code {code}; its log ends:\n{self.node.log_tail()}'
        return None

    def wait_ready(self, deadline: float) -> None:
        """Until the node listens to the inputs (and /clock) and its outputs are matched."""
        skeletons = topic_name(self.opts.skeletons_topic)
        while True:
            self.rec.subscribe_discovered()
            missing = [f'subscription to {t}' for t in self.inputs
                       if not self.rec.input_matched(t)]
            if self.node is not None and not self.rec.clock_matched():
                missing.append('subscription to /clock')
            if not self.rec.output_matched(skeletons):
                missing.append(f'publisher of {skeletons}')
            if not missing:
                return
            if (problem := self._node_problem()) is not None:
                raise ReplayError(problem)
            if time.monotonic() > deadline:
                where = (f'in domain {self.domain_id}' if self.opts.attach else
                         f'started node; its log ends:\n{self._tail()}')
                raise ReplayError(f'the node did not come up within '
                                  f'{self.opts.startup_timeout_s:.0f} s: no '
                                  f'{", no ".join(missing)} ({where})')
            time.sleep(POLL_S)

    def prime(self, deadline: float) -> None:
        """End-to-end handshake: send an empty frame (no persons, stamp 1 ms before the
        first input) until the node answers it. Matched counts only say that our writer saw
        the node's reader; this proves the node receives, pairs and processes our inputs, so
        the first real frame is not lost to discovery still settling on the node's side."""
        probe, stamp = probe_messages(self.schedule, self.inputs)   # decodable: checked
        next_send = 0.0
        while stamp not in self.rec.output_stamps:
            now = time.monotonic()
            if now > deadline:
                raise ReplayError(f'the node matched the topics but did not answer an empty '
                                  f'probe frame within {self.opts.startup_timeout_s:.0f} s '
                                  f'(is it active, pairing camera_info, accepting this '
                                  f'joint_format?){self._where()}')
            if now >= next_send:
                for topic, data in probe:
                    self.rec.publish(topic, data)
                next_send = now + PROBE_PERIOD_S
            if (problem := self._node_problem()) is not None:
                raise ReplayError(problem)
            time.sleep(POLL_S)

    def _where(self) -> str:
        return f'; node log ends:\n{self._tail()}' if self.node is not None else ''

    def _tail(self) -> str:
        return self.node.log_tail() if self.node is not None else ''

    def play(self, deadline: float) -> None:
        """Publish the schedule at its times (scaled by rate); /clock before each new time."""
        items = self.schedule.items
        gt = iter(self.schedule.gt)
        pending_gt = next(gt, None)
        start_play, wall0 = items[0][2], time.monotonic()
        keypoints = topic_name(self.opts.keypoints_topic)
        last_clock, next_check = None, 0.0
        self.rec.publish_clock(items[0][1])
        for topic, t_bag, t_play, data in items:
            due = wall0 + (t_play - start_play) / 1e9 / self.opts.rate
            while (now := time.monotonic()) < due:
                if now > deadline:
                    raise ReplayError(f'replay exceeded --timeout {self.opts.timeout_s} s')
                time.sleep(min(POLL_S, due - now))
            if now > next_check:
                self.rec.subscribe_discovered()
                if (problem := self._node_problem()) is not None:
                    raise ReplayError(problem)
                next_check = now + 0.5
            if t_bag != last_clock:
                self.rec.publish_clock(t_bag)
                last_clock = t_bag
                while pending_gt is not None and pending_gt[0] <= t_bag:
                    self.rec.record(GT, SKELETON3D_ARRAY, time.time_ns(), pending_gt[1])
                    pending_gt = next(gt, None)
            sent_ns = time.time_ns()   # before publish: the output may arrive before it returns
            self.rec.publish(topic, data)
            self.rec.record(topic, self.inputs[topic], sent_ns, data)
            if topic == keypoints:
                stamp = header_stamp_ns(data)
                if stamp is not None:
                    self.published.append(stamp)

    def drain(self, deadline: float) -> None:
        """Wait for the outputs of the last inputs: all answered, or quiet for drain_s."""
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if set(self.published) <= self.rec.output_stamps:
                return
            last = max(self.rec.last_output_s, quiet_since)
            if time.monotonic() - last > self.opts.drain_s:
                return
            time.sleep(POLL_S)

    def close(self) -> int | None:
        code = self.node.stop() if self.node is not None else None
        self.rec.close()
        return code


def drop_undecodable(schedule: Schedule, types: dict[str, str], path: str | Path
                     ) -> tuple[Schedule, dict[str, int]]:
    """The schedule without the input messages that do not decode as their topic's type, and
    how many each topic lost. Raises BagError when a topic has no decodable message at all."""
    items, bad, first_error = [], {}, {}
    for item in schedule.items:
        topic, data = item[0], item[3]
        try:
            deserialize(data, types[topic])
        except Exception as exc:  # noqa: BLE001 - rosbags raises many types for bad CDR
            bad[topic] = bad.get(topic, 0) + 1
            first_error.setdefault(topic, f'{type(exc).__name__}: {exc}')
            continue
        items.append(item)
    for topic, msgtype in types.items():
        if not any(item[0] == topic for item in items):
            raise BagError(f'{path}: no {topic} message decodes as {msgtype} '
                           f'({bad.get(topic, 0)} tried; first error: '
                           f'{first_error.get(topic, "none")[:200]})')
    return Schedule(items, schedule.gaps, schedule.gt), bad


def replay(in_path: str | Path, out_path: str | Path, opts: ReplayOptions,
           log: Callable[[str], None] = print) -> dict:
    """Replay ``in_path`` through the node into the new bag ``out_path``; returns a summary.

    Raises BagError for an unusable input (before anything starts) and ReplayError when the
    run fails; in both cases ``out_path`` (if created) is a closed, readable bag.
    """
    if opts.rate <= 0:
        raise BagError(f'--rate must be > 0, got {opts.rate}')
    inputs = [topic_name(opts.keypoints_topic), topic_name(opts.camera_info_topic)]
    with BagReader(in_path) as reader:
        reader.check([TopicSpec(inputs[0], (INPUT_TYPES['keypoints'],)),
                      TopicSpec(inputs[1], (INPUT_TYPES['camera_info'],)),
                      TopicSpec(GT, (SKELETON3D_ARRAY,), required=False)])
        schedule = load_schedule(reader, inputs, opts.max_gap_s)
        made = reader.custom.get(META_MAKE)
    schedule, undecodable = drop_undecodable(schedule, {
        inputs[0]: INPUT_TYPES['keypoints'], inputs[1]: INPUT_TYPES['camera_info']}, in_path)
    for topic, n in undecodable.items():
        log(f'warning: {n} {topic} message(s) in {in_path} cannot be decoded as '
            f'{INPUT_TYPES["keypoints"] if topic == inputs[0] else INPUT_TYPES["camera_info"]}'
            '; skipped (counted in the summary as undecodable)')
    for gap in schedule.gaps:
        log(f'warning: clock gap of {gap["gap_s"]:.3f} s in {in_path} cut to '
            f'{gap["cut_to_s"]} s (--max-gap)')
    timeout = opts.timeout_s or schedule.duration_s / opts.rate + opts.startup_timeout_s + \
        opts.drain_s + 60.0
    out = Path(out_path)
    writer = open_writer(out)
    summary = {'input': str(in_path), 'output': str(out), 'options': asdict(opts),
               'gaps': schedule.gaps, 'status': 'error', 'undecodable': undecodable,
               'model': model_identity(opts.model, opts.node_params, opts.attach)}
    run, started = None, time.monotonic()
    try:
        run = _Replay(opts, schedule, writer, out, log)
        summary['domain_id'] = run.domain_id
        if not opts.attach:
            run.start_node()
        deadline = started + timeout
        ready_by = min(deadline, time.monotonic() + opts.startup_timeout_s)
        run.wait_ready(ready_by)
        run.rec.publish_clock(schedule.items[0][1])
        run.prime(ready_by)
        log(f'node ready after {time.monotonic() - started:.1f} s; playing '
            f'{schedule.duration_s:.1f} s at rate {opts.rate}')
        run.play(deadline)
        run.drain(deadline)
        summary['status'] = 'ok'
    except ReplayError as exc:
        summary['error'] = str(exc)
        raise
    except KeyboardInterrupt:
        summary['error'] = 'interrupted'
        raise
    finally:
        if run is not None:
            summary['node_exit_code'] = run.close()
            summary['published_frames'] = len(run.published)
            summary['answered_frames'] = len(set(run.published) & run.rec.output_stamps)
            summary['recorded'] = dict(run.rec.counts)
        summary['wall_s'] = time.monotonic() - started
        if made is not None:
            writer.set_custom_data(META_MAKE, custom_json(made))
        writer.set_custom_data(META_REPLAY, custom_json(summary))
        writer.close()
    return summary
