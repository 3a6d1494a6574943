"""Virtual cameras: world-frame mocap -> camera-frame 3D and pixels (the evaluation set is
documented in docs/cli.md).

Training draws random cameras inside the operating envelope (people 3 to 30 m away, camera
heights 0.5 to 2.5 m, focal lengths 500 to 2000 px, people anywhere in the image); evaluation
uses ``EVAL_CAMERAS``, a fixed, documented set, so numbers compare across runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import intrinsics, project

UP = np.array([0.0, 1.0, 0.0])  # world up (pose files are Y-up)


@dataclass(frozen=True)
class CameraSpec:
    """A camera placed relative to the person's root (metres, degrees, pixels)."""

    distance: float        # horizontal distance camera -> root
    height: float          # camera height above the ground (y = 0)
    azimuth: float         # where the camera stands around the person (world yaw)
    focal: float           # fx = fy
    pan: float = 0.0       # yaw of the view away from the person (person off-centre)
    tilt: float = 0.0      # pitch of the view away from the person (positive = up)
    width: int = 1920
    height_px: int = 1080

    @property
    def K(self) -> np.ndarray:
        return intrinsics(self.focal, self.focal, self.width / 2.0, self.height_px / 2.0)


# The evaluation set: 8 cameras spanning the envelope. Keep it fixed: numbers depend on it.
EVAL_CAMERAS: tuple[CameraSpec, ...] = (
    CameraSpec(distance=4.0, height=1.6, azimuth=0.0, focal=1000.0),
    CameraSpec(distance=6.0, height=1.2, azimuth=45.0, focal=800.0, pan=15.0),
    CameraSpec(distance=10.0, height=2.2, azimuth=90.0, focal=1400.0, tilt=-3.0),
    CameraSpec(distance=3.0, height=0.6, azimuth=135.0, focal=600.0, pan=-25.0, tilt=5.0),
    CameraSpec(distance=15.0, height=1.8, azimuth=180.0, focal=2000.0, pan=5.0),
    CameraSpec(distance=8.0, height=1.0, azimuth=225.0, focal=900.0, pan=-20.0),
    CameraSpec(distance=25.0, height=2.5, azimuth=270.0, focal=2000.0, pan=2.0),
    CameraSpec(distance=5.0, height=1.5, azimuth=315.0, focal=700.0, pan=30.0, tilt=-5.0),
)


def _look_rotation(forward: np.ndarray) -> np.ndarray:
    """(N, 3) viewing directions -> (N, 3, 3) world -> camera rotations (x right, y down)."""
    f = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    x = np.cross(f, UP)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(f, x)
    return np.stack([x, y, f], axis=-2)


def _direction(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """World direction for yaw about +Y (0 = +Z) and pitch (up positive), radians -> (N, 3)."""
    return np.stack([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)],
                    axis=-1)


def place_cameras(roots_m: np.ndarray, distance: np.ndarray, height: np.ndarray,
                  azimuth_deg: np.ndarray, pan_deg: np.ndarray, tilt_deg: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Cameras around each root; all arguments (N,) except roots_m (N, 3) metres, world.

    Returns camera centres (N, 3) and world -> camera rotations (N, 3, 3).
    """
    az = np.radians(azimuth_deg)
    centre = roots_m + np.stack([np.sin(az) * distance, np.zeros_like(az),
                                 np.cos(az) * distance], axis=-1)
    centre[:, 1] = height
    to_root = roots_m - centre
    yaw = np.arctan2(to_root[:, 0], to_root[:, 2]) + np.radians(pan_deg)
    pitch = np.arctan2(to_root[:, 1], np.hypot(to_root[:, 0], to_root[:, 2])) + \
        np.radians(tilt_deg)
    return centre, _look_rotation(_direction(yaw, pitch))


def to_camera(joints_mm: np.ndarray, centre: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """World poses (N, J, 3) mm -> camera-frame (N, J, 3) metres."""
    return (joints_mm / 1000.0 - centre[:, None]) @ np.swapaxes(rotation, -1, -2)


def _placed(joints_mm: np.ndarray, cameras: tuple[CameraSpec, ...]):
    """Each camera of ``cameras`` placed on every root of ``joints_mm`` (F, J, 3) mm:
    (camera, centres (F, 3), rotations (F, 3, 3)) per camera."""
    f = len(joints_mm)
    roots = joints_mm[:, 0] / 1000.0
    full = np.full(f, 1.0)
    for cam in cameras:
        centre, rot = place_cameras(roots, cam.distance * full, cam.height * full,
                                    cam.azimuth * full, cam.pan * full, cam.tilt * full)
        yield cam, centre, rot


def eval_views(joints_mm: np.ndarray, cameras: tuple[CameraSpec, ...] = EVAL_CAMERAS
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pose through every evaluation camera.

    joints_mm: (F, J, 3) world -> camera-frame 3D (C*F, J, 3) metres, pixels (C*F, J, 2),
    intrinsics (C*F, 3, 3); camera-major order.
    """
    f = len(joints_mm)
    out3d, out2d, ks = [], [], []
    for cam, centre, rot in _placed(joints_mm, cameras):
        cam3d = to_camera(joints_mm, centre, rot)
        out3d.append(cam3d)
        out2d.append(project(cam3d, cam.K))
        ks.append(np.broadcast_to(cam.K, (f, 3, 3)))
    return np.concatenate(out3d), np.concatenate(out2d), np.concatenate(ks)


def eval_views_before(joints_mm: np.ndarray, before: np.ndarray,
                      cameras: tuple[CameraSpec, ...] = EVAL_CAMERAS) -> np.ndarray:
    """The poses ``before`` (F, J, 3) mm world (e.g. each frame's predecessor) seen by the
    cameras ``eval_views`` places on ``joints_mm``' roots -- a camera that stays where it was
    for that earlier moment. Returns camera-frame (C*F, J, 3) metres, camera-major."""
    return np.concatenate([to_camera(before, centre, rot)
                           for _, centre, rot in _placed(joints_mm, cameras)])


def random_cameras(roots_m: np.ndarray, rng: np.random.Generator,
                   distance: tuple[float, float] = (3.0, 30.0),
                   height: tuple[float, float] = (0.5, 2.5),
                   focal: tuple[float, float] = (500.0, 2000.0),
                   image: tuple[int, int] = (1920, 1080)
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One random camera per root (N, 3) m inside the envelope (``random_views``).

    Returns centres (N, 3) m, world -> camera rotations (N, 3, 3) and K (N, 3, 3).
    """
    n = len(roots_m)
    d = np.exp(rng.uniform(np.log(distance[0]), np.log(distance[1]), n))
    f = rng.uniform(*focal, n)
    half_w = np.degrees(np.arctan(0.45 * image[0] / f))
    half_h = np.degrees(np.arctan(0.45 * image[1] / f))
    centre, rot = place_cameras(roots_m, d, rng.uniform(*height, n),
                                rng.uniform(0.0, 360.0, n), rng.uniform(-1, 1, n) * half_w,
                                rng.uniform(-1, 1, n) * half_h)
    K = np.zeros((n, 3, 3))
    K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = f, f, 1.0
    K[:, 0, 2], K[:, 1, 2] = image[0] / 2.0, image[1] / 2.0
    return centre, rot, K


def random_views(joints_mm: np.ndarray, rng: np.random.Generator,
                 distance: tuple[float, float] = (3.0, 30.0),
                 height: tuple[float, float] = (0.5, 2.5),
                 focal: tuple[float, float] = (500.0, 2000.0),
                 image: tuple[int, int] = (1920, 1080)) -> tuple[np.ndarray, np.ndarray]:
    """One random camera per pose inside the operating envelope.

    Distances are drawn log-uniformly; the view is panned/tilted so the root lands anywhere
    in the central 90 % of the image. Returns camera-frame 3D (N, J, 3) m and K (N, 3, 3).
    """
    centre, rot, K = random_cameras(joints_mm[:, 0] / 1000.0, rng, distance, height, focal,
                                    image)
    return to_camera(joints_mm, centre, rot), K
