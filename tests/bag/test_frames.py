"""config/lift.rviz and the frames of a ``bag make`` bag agree: RViz can show the demo replay."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from pose_lifter.bag import io

RVIZ = Path(__file__).resolve().parents[2] / 'config' / 'lift.rviz'


def _frames(path) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """(header frame ids, tf_static (parent, child) pairs, frames of the markers' inputs)."""
    headers, edges, inputs = set(), set(), set()
    with io.BagReader(path) as reader:
        for topic in reader.topics:
            for _, msg in reader.decoded(topic):
                if hasattr(msg, 'header'):
                    headers.add(msg.header.frame_id)
                    if topic == io.KEYPOINTS:
                        inputs.add(msg.header.frame_id)
                for t in getattr(msg, 'transforms', ()):
                    edges.add((t.header.frame_id, t.child_frame_id))
    return headers, edges, inputs


def test_the_rviz_fixed_frame_is_a_frame_of_the_bag_linked_to_every_camera(small_bag):
    cfg = yaml.safe_load(RVIZ.read_text())
    fixed = cfg['Visualization Manager']['Global Options']['Fixed Frame']
    headers, edges, inputs = _frames(small_bag)
    tf_frames = {f for edge in edges for f in edge}
    assert fixed in headers | tf_frames
    # The node publishes markers in the keypoints' frame: RViz must reach each of them
    # from the fixed frame through /tf_static.
    assert inputs and all(f == fixed or (fixed, f) in edges for f in inputs)
    assert inputs == {f'camera_{i}_optical_frame' for i in range(len(inputs))}
    # Every display that names a topic reads one the node or the bag provides.
    displays = cfg['Visualization Manager']['Displays']
    topics = {d['Topic']['Value'] for d in displays if 'Topic' in d}
    assert topics == {'/markers'}


def test_world_is_z_up_so_the_rviz_ground_grid_is_the_floor(small_bag):
    """The grid lies in the fixed frame's XY plane at z = 0: the mocap floor (Y up in the pose
    file) must come out at world z ~ 0 and the cameras above it."""
    cfg = yaml.safe_load(RVIZ.read_text())
    (grid,) = [d for d in cfg['Visualization Manager']['Displays']
               if d['Class'] == 'rviz_default_plugins/Grid']
    assert grid['Plane'] == 'XY' and grid['Offset']['Z'] == 0
    with io.BagReader(small_bag) as reader:
        (_, tf), = list(reader.decoded(io.TF_STATIC))
    heights = np.array([t.transform.translation.z for t in tf.transforms])
    assert ((heights > 0.3) & (heights < 3.0)).all()     # camera heights of the eval set
