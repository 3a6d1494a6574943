"""``bag make``: a rosbag2 MCAP of 2D keypoints, CameraInfo and ground-truth 3D from a pose file.

Per frame, all with the frame's stamp as header stamp and log time: ``/clock``,
``/camera_info``, ``/keypoints_2d`` (Skeleton2DArray), ``/skeletons_3d_gt`` (Skeleton3DArray,
camera optical frame, metres, ids matching the 2D). Once, at the start: ``/tf_static``
(world -> every camera, transient local). Clips follow each other at their own frame rate from
``START_NS``. The scene conventions (cameras, track ids, corruption labels) are in scene.py and
in the bag's metadata (custom_data key ``pose_lifter``, JSON).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..core.poses import PoseSet, load_pose_file
from . import messages as m
from .io import (
    CAMERA_INFO,
    CAMERA_INFO_TYPE,
    CLOCK,
    CLOCK_TYPE,
    GT,
    KEYPOINTS,
    META_MAKE,
    SKELETON2D_ARRAY,
    SKELETON3D_ARRAY,
    TF_MESSAGE,
    TF_STATIC,
    BagError,
    add_topic,
    custom_json,
    open_writer,
    serialize,
)
from .scene import CORRUPT_PREFIX, GT_STATUS, MIN_DEPTH_M, MIN_VISIBLE, ClipView, SceneOptions
from .scene import scene as build_scene

START_NS = 1_700_000_000 * 1_000_000_000   # a fixed epoch: bags are reproducible


def select_poses(path: str | Path, subjects: list[str] | None, fps: float | None) -> PoseSet:
    """Load a pose file and keep ``subjects`` (all if None) at about ``fps`` (native if None)."""
    poses = load_pose_file(path)
    if subjects:
        poses = poses.subjects_only(subjects)
    if fps:
        poses = poses.subsample(fps)
    if len(poses) == 0:
        raise BagError(f'{path}: no frames left after the --subjects/--fps selection')
    return poses


def metadata(views: list[ClipView], opts: SceneOptions, source: str, frames: int,
             selection: dict | None = None) -> dict:
    """The JSON written to custom_data: what went in (source, options, selection) and how to
    read this bag's labels and cameras. ``bag replay`` copies it into its output, so ``bag
    score`` can report it."""
    return {
        'generator': 'pose-lifter bag make',
        'source': source,
        'frames': frames,
        'options': asdict(opts),
        'selection': selection or {},
        'labels': {'id_format': 'c<clip>p<person>: a corrupted person keeps its track id',
                   'gt_status_real': GT_STATUS, 'gt_status_corrupt': f'{CORRUPT_PREFIX}<kind>',
                   'note': 'corruptions of core.corruptions on the camera-frame 3D before '
                           'projection; GT holds the uncorrupted pose'},
        'visibility': {'min_depth_m': MIN_DEPTH_M, 'min_visible_joints': MIN_VISIBLE},
        'clips': [{'name': v.name, 'frame_id': v.frame_id, 'fps': 1e9 / v.dt_ns,
                   'frames': int(len(v.present)), 'camera': asdict(v.spec),
                   'centre_world_m': [float(c) for c in v.centre]} for v in views],
        'world_frame': m.WORLD_FRAME,
    }


def _write_clip(writer, conns: dict, view: ClipView, t0: int, fmt: str,
                distortion: tuple[float, ...]) -> tuple[int, int]:
    """Write one clip from stamp ``t0``; returns (next stamp, persons written)."""
    persons = 0
    for t in range(len(view.present)):
        ns = t0 + t * view.dt_ns
        rows = np.flatnonzero(view.present[t])
        ids = [view.person_id(t, p) for p in rows]
        status = [view.gt_status(t, p) for p in rows]
        msgs = ((CLOCK, m.clock(ns)),
                (CAMERA_INFO, m.camera_info(ns, view.frame_id, view.spec, distortion)),
                (KEYPOINTS, m.skeleton2d_array(ns, view.frame_id, fmt, ids,
                                               view.keypoints[t, rows],
                                               view.confidence[t, rows])),
                (GT, m.skeleton3d_array(ns, view.frame_id, ids, view.gt[t, rows], status)))
        for topic, msg in msgs:
            writer.write(conns[topic], ns, serialize(msg))
        persons += len(rows)
    return t0 + len(view.present) * view.dt_ns, persons


def make_bag(poses_path: str | Path, out: str | Path, opts: SceneOptions,
             subjects: list[str] | None = None, fps: float | None = None,
             max_frames: int | None = None) -> dict:
    """Write the bag ``out`` (a rosbag2 directory holding one .mcap); returns a summary."""
    poses = select_poses(poses_path, subjects, fps)
    views = build_scene(poses, opts, max_frames)
    frames = sum(len(v.present) for v in views)
    writer = open_writer(out)
    try:
        conns = {topic: add_topic(writer, topic, msgtype, latched=topic == TF_STATIC)
                 for topic, msgtype in ((CLOCK, CLOCK_TYPE), (TF_STATIC, TF_MESSAGE),
                                        (CAMERA_INFO, CAMERA_INFO_TYPE),
                                        (KEYPOINTS, SKELETON2D_ARRAY), (GT, SKELETON3D_ARRAY))}
        writer.write(conns[TF_STATIC], START_NS, serialize(m.tf_static(
            START_NS, [(v.frame_id, v.centre, v.rotation) for v in views])))
        t0, persons = START_NS, 0
        for view in views:
            t0, n = _write_clip(writer, conns, view, t0, opts.joint_format, opts.distortion)
            persons += n
        selection = {'subjects': subjects, 'fps': fps, 'max_frames': max_frames}
        writer.set_custom_data(META_MAKE, custom_json(metadata(views, opts, str(poses_path),
                                                                frames, selection)))
    finally:
        writer.close()
    corrupted = sum(int((v.corruption[v.present] != '').sum()) for v in views)
    return {'bag': str(out), 'clips': len(views), 'frames': frames, 'persons': persons,
            'corrupted': corrupted, 'duration_s': (t0 - START_NS) / 1e9,
            'joint_format': opts.joint_format}
