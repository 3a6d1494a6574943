"""Bag I/O shared by make, replay and score: topic names, the typestore, checked open/create.

Only this module and the message builders touch rosbags; errors become ``BagError`` with a
message that names the file and what is wrong (never a rosbags traceback).
"""
from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.stamps import stamp_to_ns

# Topics of a ``bag make`` bag (fully qualified, as ``ros2 bag record`` names them).
KEYPOINTS = '/keypoints_2d'
CAMERA_INFO = '/camera_info'
GT = '/skeletons_3d_gt'
TF_STATIC = '/tf_static'
CLOCK = '/clock'
# Topics recorded from the node by ``bag replay``.
SKELETONS = '/skeletons_3d'
MARKERS = '/markers'
DIAGNOSTICS = '/diagnostics'

SKELETON2D_ARRAY = 'pose_lifter_msgs/msg/Skeleton2DArray'
SKELETON3D_ARRAY = 'pose_lifter_msgs/msg/Skeleton3DArray'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
MARKER_ARRAY = 'visualization_msgs/msg/MarkerArray'
DIAGNOSTIC_ARRAY = 'diagnostic_msgs/msg/DiagnosticArray'
TF_MESSAGE = 'tf2_msgs/msg/TFMessage'
CLOCK_TYPE = 'rosgraph_msgs/msg/Clock'
# custom_data keys (JSON values) in metadata.yaml.
META_MAKE = 'pose_lifter'
META_REPLAY = 'pose_lifter_replay'


class BagError(RuntimeError):
    """A bag that is missing, unreadable, or lacks what a tool needs (the message says what)."""


def topic_name(name: str) -> str:
    """Fully qualified topic name ('keypoints_2d' -> '/keypoints_2d')."""
    return name if name.startswith('/') else '/' + name


def _msg_dirs() -> Iterator[Path]:
    """Candidate folders holding pose_lifter_msgs' .msg files (install first, then checkout)."""
    for prefix in [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]:
        yield Path(prefix) / 'share' / 'pose_lifter_msgs' / 'msg'
    yield Path(sys.prefix) / 'share' / 'pose_lifter_msgs' / 'msg'
    yield Path(__file__).resolve().parents[3] / 'pose_lifter_msgs' / 'msg'


@functools.cache
def typestore():
    """rosbags typestore (ROS 2 Jazzy types, identical hashes in Kilted) + pose_lifter_msgs."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    for folder in _msg_dirs():
        files = sorted(folder.glob('*.msg'))
        if files:
            types: dict[str, Any] = {}
            for f in files:
                types.update(get_types_from_msg(f.read_text(), f'pose_lifter_msgs/msg/{f.stem}'))
            store.register(types)
            return store
    raise BagError('pose_lifter_msgs message definitions (*.msg) not found in the ament '
                   'prefixes, the venv or the checkout')


def serialize(msg: Any) -> bytes:
    """A rosbags message object -> CDR bytes."""
    return bytes(typestore().serialize_cdr(msg, msg.__msgtype__))


def deserialize(data: bytes, msgtype: str) -> Any:
    return typestore().deserialize_cdr(data, msgtype)


def _plain(value: Any) -> Any:
    """Strings without backslashes, newlines or double quotes (recursively)."""
    if isinstance(value, str):
        return value.replace('\\', '/').replace('\n', ' | ').replace('"', "'")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def custom_json(value: Any) -> str:
    """JSON for metadata.yaml's custom_data without any backslash escape: the YAML emitter
    of rosbags can fold a long double-quoted line right after an escaped backslash, which
    readers then misparse (seen with multi-line error texts)."""
    return json.dumps(_plain(value), ensure_ascii=False, default=str)


def read_custom_data(path: Path, problems: list[str] | None = None) -> dict[str, Any]:
    """JSON values of metadata.yaml's custom_data (empty for a bare .mcap or none).

    What cannot be read is left out and said: appended to ``problems`` when given, else a
    ``warning:`` line on stderr.
    """
    meta = Path(path) / 'metadata.yaml'
    if not meta.is_file():
        return {}

    def problem(what: str, exc: Exception) -> None:
        text = f'{meta}: {what} ignored ({type(exc).__name__}: {exc})'
        if problems is None:
            print(f'warning: {text}', file=sys.stderr)
        else:
            problems.append(text)

    try:
        info = yaml.safe_load(meta.read_text()).get('rosbag2_bagfile_information', {})
        raw = info.get('custom_data') or {}
        items = [(k, v) for k, v in raw.items() if k in (META_MAKE, META_REPLAY)]
    except (yaml.YAMLError, AttributeError, TypeError, OSError) as exc:
        problem('unreadable metadata: custom_data', exc)
        return {}
    out = {}
    for key, value in items:
        try:
            out[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError) as exc:
            problem(f'custom_data {key}', exc)
    return out


@dataclass
class TopicSpec:
    """A topic a tool needs from a bag: its name and the message types it accepts."""

    name: str
    types: tuple[str, ...]
    required: bool = True


class BagReader:
    """A rosbag2 bag (directory or bare .mcap) opened for reading, with checked topics."""

    def __init__(self, path: str | Path):
        from rosbags.rosbag2 import Reader

        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f'bag not found: {self.path}')
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as exc:  # rosbags raises several types for damaged files
            raise BagError(f'{self.path}: cannot read bag ({type(exc).__name__}: {exc}); '
                           'is it a complete rosbag2 MCAP (truncated or still being '
                           'written?)') from None
        self.problems: list[str] = []     # what could not be read (said, never silent)
        self.custom = read_custom_data(self.path, self.problems)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> 'BagReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def topics(self) -> dict[str, str]:
        """topic -> message type."""
        return {c.topic: c.msgtype for c in self._reader.connections}

    def check(self, specs: Iterable[TopicSpec]) -> dict[str, str]:
        """Check that the required topics exist with an accepted type.

        Returns {topic: type} of the specs present; raises BagError naming the missing topics,
        the wrong types and the topics the bag does have.
        """
        have, found, problems = self.topics, {}, []
        for spec in specs:
            msgtype = have.get(spec.name)
            if msgtype is None:
                if spec.required:
                    problems.append(f'no topic {spec.name}')
            elif msgtype not in spec.types:
                problems.append(f'topic {spec.name} has type {msgtype}, expected '
                                f'{" or ".join(spec.types)}')
            else:
                found[spec.name] = msgtype
        if problems:
            listing = ', '.join(f'{t} ({m})' for t, m in sorted(have.items())) or 'none'
            raise BagError(f'{self.path}: ' + '; '.join(problems) + f'. Topics in the bag: '
                           f'{listing}')
        return found

    def messages(self, topics: Iterable[str]) -> Iterator[tuple[str, int, bytes]]:
        """(topic, log time ns, raw CDR) of ``topics`` in log-time order."""
        wanted = set(topics)
        conns = [c for c in self._reader.connections if c.topic in wanted]
        if not conns:
            return
        try:
            for conn, t, data in self._reader.messages(connections=conns):
                yield conn.topic, t, bytes(data)
        except Exception as exc:
            raise BagError(f'{self.path}: damaged message data ({type(exc).__name__}: '
                           f'{exc})') from None

    def decoded(self, topic: str) -> Iterator[tuple[int, Any]]:
        """(log time ns, rosbags message) of one topic."""
        msgtype = self.topics.get(topic)
        if msgtype is None:
            return
        for _, t, data in self.messages([topic]):
            try:
                yield t, deserialize(data, msgtype)
            except Exception as exc:
                raise BagError(f'{self.path}: cannot decode a {msgtype} on {topic} '
                               f'({type(exc).__name__}: {exc})') from None


def open_writer(path: str | Path):
    """A new rosbag2 MCAP bag (rosbags Writer, format version 9), opened. Refuses to
    overwrite."""
    from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

    path = Path(path)
    try:
        writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        writer.open()
    except WriterError as exc:
        raise BagError(f'cannot create bag {path}: {exc}') from None
    return writer


def add_topic(writer, topic: str, msgtype: str, latched: bool = False):
    """Register a topic on a rosbags Writer (transient-local QoS when ``latched``)."""
    qos = ()
    if latched:
        from rosbags.interfaces import (
            Qos,
            QosDurability,
            QosHistory,
            QosLiveliness,
            QosReliability,
            QosTime,
        )
        zero = QosTime(0, 0)
        qos = (Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE,
                   QosDurability.TRANSIENT_LOCAL, zero, zero, QosLiveliness.AUTOMATIC, zero,
                   False),)
    return writer.add_connection(topic, msgtype, typestore=typestore(),
                                 offered_qos_profiles=qos)


def stamp_ns(header: Any) -> int:
    """std_msgs/Header (rosbags) -> stamp in ns (``core.stamps.stamp_to_ns``)."""
    return stamp_to_ns(header.stamp)
