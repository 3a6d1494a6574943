"""Where the shipped files are: installed share/pose_lifter (ament index) or the source tree."""
from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = 'pose_lifter'
DEFAULT_MODEL = 'default.onnx'


def _prefix_share() -> Path:
    return Path(sys.prefix) / 'share' / PACKAGE


def _source_root() -> Path | None:
    """The repository root when this module runs from a checkout (not an install)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / 'src' / PACKAGE / 'package.xml').is_file() else None


def share_dir() -> Path:
    """The repository root when run from a checkout, else share/pose_lifter of the install."""
    source = _source_root()
    if source is not None:
        return source
    ensure_ament_prefix()
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, OSError):
        return _prefix_share()


def ensure_ament_prefix() -> None:
    """Make the venv a visible ament prefix (pip installs share/ into sys.prefix); appended,
    so that prefixes already set (a sourced workspace overlaying the venv) come first."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    if (_prefix_share() / 'package.xml').is_file() and sys.prefix not in prefixes:
        os.environ['AMENT_PREFIX_PATH'] = os.pathsep.join(prefixes + [sys.prefix])


def default_model() -> Path:
    """The shipped default model."""
    return share_dir() / 'models' / DEFAULT_MODEL


def demo_poses() -> Path:
    """The shipped demo pose file (a test-subject clip of the CMU data)."""
    return share_dir() / 'models' / 'demo_poses.npz'
