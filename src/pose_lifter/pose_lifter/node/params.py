"""The node's parameters: one typed table, descriptors with ranges, validation, defaults.

Defaults live only in ``config/lifter.yaml`` (read from share/pose_lifter, or the checkout);
this module holds types, descriptions, ranges and choices, and checks the two agree. Only
``descriptor`` touches ROS types (rcl_interfaces messages: no DDS, no rclpy.init).
"""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..core.backends import BACKENDS
from ..core.errors import PoseLifterInputError, clip
from ..core.markers import GATE_MODES
from ..resources import share_dir

CONFIG_FILE = ('config', 'lifter.yaml')
# What arrives on keypoints_2d (or, for hri, on the ROS4HRI body topics): see node/sources.py.
INPUT_FORMATS = ('pose_lifter', 'yolo_ros', 'hri')
# pose_lifter_node's spin loop (node/main.py make_executor).
EXECUTORS = ('events', 'single_threaded')


class ConfigError(PoseLifterInputError):
    """A parameter file or value that does not fit the parameter table."""


def _p(description: str, lo: float | None = None, hi: float | None = None,
       choices: tuple[str, ...] | None = None, runtime: bool = False):
    return field(metadata={'description': description, 'range': None if lo is None else (lo, hi),
                           'choices': choices, 'runtime': runtime})


@dataclass(frozen=True)
class Settings:
    """Every parameter of the node (no defaults here: see config/lifter.yaml)."""

    model: str = _p("ONNX model file; '' = the shipped default model")
    backend: str = _p('inference backend (auto falls back TensorRT -> CUDA -> CPU)',
                      choices=BACKENDS)
    threads: int = _p('onnxruntime intra-op threads; 0 = library default', 0, 256)
    executor: str = _p("pose_lifter_node's spin loop (read at start-up): events = rclpy's "
                       'C++ EventsExecutor (single_threaded where rclpy lacks it), '
                       'single_threaded = rclpy.executors.SingleThreadedExecutor',
                       choices=EXECUTORS)
    fp16: bool = _p('TensorRT: FP16 engine where supported')
    engine_cache_dir: str = _p("TensorRT engine cache folder; '' = the backend's default")
    warmup_runs: int = _p('inference runs at configure per warm-up batch size', 0, 100)
    max_persons: int = _p('persons lifted per message; more are truncated, most confident '
                          'kept (also the TensorRT engine batch limit)', 1, 1024)
    autostart: bool = _p('configure and activate on start (no lifecycle manager needed)')
    use_model_threshold: bool = _p("gate with the model's calibrated realism threshold",
                                   runtime=True)
    realism_threshold: float = _p('realism threshold when use_model_threshold is false',
                                  -1.0e6, 1.0e6, runtime=True)
    min_valid_joints: int = _p('minimum valid H36M input joints to lift a person', 1, 17,
                               runtime=True)
    min_confidence: float = _p('input joints with a lower confidence count as missing; 0 = '
                               'every joint with confidence > 0 is used', 0.0, 1.0,
                               runtime=True)
    uncertainty_samples: int = _p('latent samples for joint_uncertainty; 0 = off', 0, 64,
                                  runtime=True)
    anchor_to_rays: bool = _p('keep the predicted depths and put each seen joint on its '
                              'camera ray (exact reprojection); false: raw network pose',
                              runtime=True)
    gate_mode: str = _p('markers of implausible poses', choices=GATE_MODES, runtime=True)
    envelope_image_margin: float = _p('persons with a keypoint farther outside the image than '
                                      'this fraction of its width/height get status '
                                      'outside_image (needs CameraInfo width/height)', 0.0, 10.0)
    envelope_min_depth_m: float = _p('persons whose root is nearer than this in front of the '
                                     'camera get status out_of_range (m)', 0.0, 1.0e3)
    envelope_max_depth_m: float = _p('persons whose root is farther than this from the camera '
                                     'get status out_of_range (m)', 0.01, 1.0e6)
    envelope_max_size_ratio: float = _p('persons whose metric bone-length sum differs from the '
                                        "model's body-size prior by more than this factor get "
                                        'status out_of_range', 1.0, 100.0)
    input_format: str = _p('input messages: pose_lifter (Skeleton2DArray on keypoints_2d), '
                           'yolo_ros (yolo_msgs/DetectionArray on keypoints_2d), hri (ROS4HRI '
                           '/humans/bodies/tracked and /humans/bodies/<id>/skeleton2d)',
                           choices=INPUT_FORMATS)
    use_camera_info: bool = _p('synchronise with camera_info; false: intrinsics from fx, fy, '
                               'cx, cy')
    undistort: bool = _p('undistort keypoints with CameraInfo D (false: the detector ran on '
                         'rectified images; lift with P)')
    fx: float = _p('focal length x (px) when use_camera_info is false', 1.0, 1.0e5)
    fy: float = _p('focal length y (px) when use_camera_info is false', 1.0, 1.0e5)
    cx: float = _p('principal point x (px) when use_camera_info is false', -1.0e5, 1.0e5)
    cy: float = _p('principal point y (px) when use_camera_info is false', -1.0e5, 1.0e5)
    sync_queue_size: int = _p('approximate-time sync queue per input', 1, 1000)
    sync_slop_s: float = _p('approximate-time sync: keypoints and camera_info match when '
                            'their stamps differ by strictly less than this (s)', 1.0e-6, 10.0)
    stamp_jump_ahead_s: float = _p('an input stamp further ahead of the last served one than '
                                   'the time elapsed plus this is a jump: skipped as '
                                   'stamp_jump unless the next frame confirms it (s)',
                                   1.0e-3, 3600.0)
    stamp_reset_back_s: float = _p('an input stamp older than the last served one by at most '
                                   'this is late (out_of_order); by more, a jump (stamp_jump '
                                   'unless the next frame confirms it) (s)', 1.0e-3, 3600.0)
    publish_markers: bool = _p('publish visualization_msgs/MarkerArray on markers',
                               runtime=True)
    marker_bone_width: float = _p('bone line width (m)', 0.001, 1.0, runtime=True)
    marker_joint_size: float = _p('joint sphere diameter (m)', 0.001, 1.0, runtime=True)
    marker_lifetime_s: float = _p('marker lifetime (s); 0 = until deleted', 0.0, 3600.0,
                                  runtime=True)
    marker_alpha: float = _p('marker opacity', 0.0, 1.0, runtime=True)
    marker_uncertainty: bool = _p('joint spheres show the uncertainty: opacity from the 90 % '
                                  'radius, inferred joints paler (per-point colours)',
                                  runtime=True)
    track_gate: bool = _p("judge realism with the model's track gate where it has one: "
                          "each person's realism and its motion since the same track's last "
                          'accepted detection (needs Skeleton2D ids); false: each frame alone')
    diagnostics_period_s: float = _p('period of /diagnostics (s)', 0.1, 60.0)
    stale_after_s: float = _p('/diagnostics turns STALE after this long without keypoints (s); '
                              '0 = never', 0.0, 86400.0)
    log_throttle_s: float = _p('minimum time between log lines of one kind (s)', 0.0, 3600.0,
                               runtime=True)
    temporal_filter: bool = _p('filter every track over time (One-Euro on the root-relative '
                               'joints, the root direction and the root depth apart; '
                               'core/temporal.py)')
    temporal_pose_min_cutoff_hz: float = _p('temporal filter, root-relative joints: minimum '
                                            'cutoff (Hz); lower smooths more', 1.0e-3, 1.0e3)
    temporal_pose_beta: float = _p('temporal filter, root-relative joints: cutoff rise per '
                                   'm/s of joint speed; higher lags less', 0.0, 1.0e4)
    temporal_ray_min_cutoff_hz: float = _p('temporal filter, root direction (x/z, y/z): '
                                           'minimum cutoff (Hz)', 1.0e-3, 1.0e3)
    temporal_ray_beta: float = _p('temporal filter, root direction: cutoff rise per unit/s',
                                  0.0, 1.0e4)
    temporal_depth_min_cutoff_hz: float = _p('temporal filter, root depth (log): minimum '
                                             'cutoff (Hz)', 1.0e-3, 1.0e3)
    temporal_depth_beta: float = _p('temporal filter, root depth: cutoff rise per unit/s of '
                                    'log depth', 0.0, 1.0e4)
    temporal_jump_m: float = _p('a root this far sideways from where the track was expected '
                                'is a new person (id switch): the track restarts (m)',
                                1.0e-3, 1.0e3)
    temporal_jump_depth: float = _p('... or this far in log depth (0.3: about 35 %)',
                                    1.0e-3, 10.0)
    temporal_timeout_s: float = _p('tracks not seen for this long are forgotten (s)',
                                   1.0e-3, 3600.0)
    temporal_max_tracks: int = _p('tracks kept at most; beyond, the one seen longest ago is '
                                  'evicted', 1, 100000)
    temporal_associate: bool = _p('persons without a track id: follow them by nearest root '
                                  '(greedy, within temporal_associate_gate_m); false: not '
                                  'filtered')
    temporal_associate_gate_m: float = _p('largest root distance for that association (m)',
                                          1.0e-3, 1.0e3)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> 'Settings':
        missing = [n for n in NAMES if n not in values]
        if missing:
            raise ConfigError(f'missing parameters: {missing}')
        return cls(**{n: coerce(n, values[n]) for n in NAMES})


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: type
    description: str
    range: tuple[float, float] | None
    choices: tuple[str, ...] | None
    runtime: bool


_HINTS = typing.get_type_hints(Settings)
SPECS: dict[str, ParamSpec] = {
    f.name: ParamSpec(f.name, _HINTS[f.name], **f.metadata) for f in fields(Settings)}
NAMES = tuple(SPECS)
RUNTIME = frozenset(n for n, s in SPECS.items() if s.runtime)


def coerce(name: str, value: Any) -> Any:
    """``value`` as the parameter's type (an int for a double parameter becomes a float)."""
    spec = SPECS[name]
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def check(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for parameter ``name``, or None if it is."""
    spec = SPECS.get(name)
    if spec is None:
        return None  # not ours (use_sim_time, qos overrides ...)
    value = coerce(name, value)
    if type(value) is not spec.type:
        return f'{name} must be a {spec.type.__name__}, got {type(value).__name__}'
    if spec.type is float and not math.isfinite(value):
        return f'{name} must be finite, got {value}'
    if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
        return f'{name} must be in [{spec.range[0]}, {spec.range[1]}], got {value}'
    if spec.choices is not None and value not in spec.choices:
        return f'{name} must be one of {list(spec.choices)}, got {clip(value)}'
    return None


def settings_problem(s: Settings) -> str | None:
    """Why a combination of parameters cannot work (checked at configure and activate)."""
    if s.input_format == 'hri' and not s.use_camera_info:
        return ('input_format hri needs use_camera_info true: ROS4HRI keypoints are '
                'normalised, and the CameraInfo width/height turn them into pixels')
    if s.envelope_min_depth_m >= s.envelope_max_depth_m:
        return (f'envelope_min_depth_m ({s.envelope_min_depth_m}) must be below '
                f'envelope_max_depth_m ({s.envelope_max_depth_m})')
    return None


def config_path() -> Path:
    """config/lifter.yaml of the install (share/pose_lifter) or the checkout."""
    return share_dir().joinpath(*CONFIG_FILE)


def load_defaults(path: str | Path | None = None) -> dict[str, Any]:
    """The ``ros__parameters`` of a node parameter file, checked against the table.

    Merges every ``ros__parameters`` block of the file (``/**``, ``pose_lifter``, ...).
    Raises ConfigError when a parameter is missing, unknown or invalid.
    """
    path = Path(path) if path is not None else config_path()
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f'cannot read parameter file {path}: {exc}') from None
    values: dict[str, Any] = {}
    for block in (doc or {}).values():
        if isinstance(block, dict) and isinstance(block.get('ros__parameters'), dict):
            values.update(block['ros__parameters'])
    missing = sorted(set(NAMES) - set(values))
    unknown = sorted(set(values) - set(NAMES) - {'use_sim_time'})
    if missing or unknown:
        raise ConfigError(f'{path}: missing parameters {missing}, unknown parameters {unknown}')
    problems = [p for p in (check(n, values[n]) for n in NAMES) if p]
    if problems:
        raise ConfigError(f'{path}: ' + '; '.join(problems))
    return {n: coerce(n, values[n]) for n in NAMES}


def descriptor(name: str):
    """rcl_interfaces/ParameterDescriptor with description, type, range and choices."""
    from rcl_interfaces.msg import (
        FloatingPointRange,
        IntegerRange,
        ParameterDescriptor,
        ParameterType,
    )

    spec = SPECS[name]
    kind = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
            float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    when = 'applies at once' if spec.runtime else 'applies at the next configure/activate'
    d = ParameterDescriptor(name=name, type=kind[spec.type],
                            description=f'{spec.description} ({when})')
    if spec.choices is not None:
        d.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    if spec.range is not None and spec.type is float:
        d.floating_point_range = [FloatingPointRange(
            from_value=float(spec.range[0]), to_value=float(spec.range[1]), step=0.0)]
    elif spec.range is not None and spec.type is int:
        d.integer_range = [IntegerRange(
            from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=1)]
    return d
