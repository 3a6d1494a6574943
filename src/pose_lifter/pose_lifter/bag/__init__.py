"""Rosbag tools (docs/bags.md). rosbags writes and reads rosbag2 MCAP (readable by ``ros2 bag``,
Foxglove and rosbags); only ``replay`` needs rclpy.

    pose-lifter bag make models/demo_poses.npz --out demo_bag [--joint-format coco17]
        [--persons 2] [--corrupt-prob 0.2] [--noise-px 1] [--drop-prob P] [--fps 10]
    pose-lifter bag replay demo_bag --out demo_out [--rate 1] [--model m.onnx] [--attach]
    pose-lifter bag score demo_out [--gt demo_bag] [--report DIR] [--json score.json]

Modules: scene (numpy: clips, static cameras, persons, detector effects, labels), messages
(rosbags message builders), make, schedule/recorder/node_process/replay (playback through the
live node), tables/score (matching and metrics), report (Markdown, HTML, PNG), io (topics,
typestore, checked reading and writing).
"""
