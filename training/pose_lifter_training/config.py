"""Run configuration: typed dataclasses, one YAML per run, presets and ``--set`` overrides.

The dataclass defaults are the ``default`` preset (the product). ``configs/thesis.yaml`` turns
every fix off to reproduce the thesis objective (thesis-code-notes §6.4); ``supervised.yaml``
trains the same networks on 3D ground truth. A run's full config is saved beside its
checkpoints (``config.yaml``) and inside every checkpoint.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

PRESETS = ('thesis', 'default', 'supervised')
# best.pt selection: 3D validation metrics, or 2D-only criteria on held-out 2D (selection.py)
SELECT_METRICS = ('n_mpjpe', 'pa_mpjpe', 'crit_2d', 'plaus_2d', 'reproj_2d', 'cons_2d', 'cons_3d',
                  'bone_cv', 'bone_asym')


class ConfigError(ValueError):
    """A config file or override that does not fit the schema."""


@dataclass
class DataConfig:
    path: str = 'data/cmu_mocap_h36m17.npz'   # 3D pose file (project or VideoPose3D): make data
    extra_2d: str = ''          # optional VideoPose3D data_2d_h36m_gt.npz, 2D-only training rows
    trust_pickle: bool = False  # VideoPose3D files are pickles (a crafted one runs code)
    # unlabelled 2D of the user's cameras (sources2d.py): a rosbag2 (Skeleton2DArray +
    # CameraInfo) or a kp.npz; path '' with it = no 3D at all (2D-only selection)
    unlabelled: str = ''
    unlabelled_keypoints_topic: str = ''    # '' = the bag's only Skeleton2DArray topic
    unlabelled_camera_info_topic: str = ''  # '' = the bag's only CameraInfo topic
    unlabelled_min_confidence: float = 0.1  # joints below this are missing
    unlabelled_min_joints: int = 12         # persons with fewer H36M joints are skipped
    unlabelled_holdout: float = 0.1         # share of time blocks held out for selection
    unlabelled_block_s: float = 5.0         # time-block length of the held-out split
    train_subjects: list[str] = field(default_factory=lambda: [
        '01', '02', '03', '05', '06', '10', '12', '13', '16'])
    val_subjects: list[str] = field(default_factory=lambda: ['14'])
    test_subjects: list[str] = field(default_factory=lambda: ['07'])
    train_fps: float = 30.0
    eval_fps: float = 10.0
    flip_prob: float = 0.5
    missing_prob: float = 0.2   # share of training poses with 1..missing_max limb joints zeroed
    missing_max: int = 2
    # detector-like 2D (pose_lifter.core.detector_noise; data.detector_view)
    noise_prob: float = 0.0     # share of training poses with detector noise
    noise_px_max: float = 3.0   # pixel floor of the noise ~ U(0, this) per pose
    noise_size_max: float = 0.015  # + U(0, this) x person height x COCO joint spread
    noise_drop: float = 0.05    # noisy poses: share of joints not detected
    noise_low_conf: float = 0.05   # noisy poses: share of badly localised joints (3 sigma)
    coco_prob: float = 0.0      # share of poses as COCO-17 keypoints through the adapter
    distance_m: list[float] = field(default_factory=lambda: [3.0, 30.0])
    height_m: list[float] = field(default_factory=lambda: [0.5, 2.5])
    focal_px: list[float] = field(default_factory=lambda: [500.0, 2000.0])


@dataclass
class ModelConfig:
    width: int = 1024
    latent: int = 51
    blocks: int = 1             # residual blocks in encoder and decoder
    dropout: float = 0.2
    output_bound: float = 1.3   # decoder output = bound * tanh(.)
    logvar_max: float = 30.0
    logvar_init: str = 'zero'       # 'kaiming' (thesis) | 'zero': logvar head starts at 0
    output_init: str = 'small'      # 'kaiming' (thesis, tanh starts saturated) | 'small'
    critic_width: int = 1024
    critic_blocks: int = 2
    critic_dropout: float = 0.5
    leaky_slope: float = 0.01
    depth_only: bool = False    # the lifter predicts depths; seen joints lie on their input rays
    critic_views: int = 8       # realism = mean critic score over this many fixed rotations
    realism_reproj_tau: float = 0.005  # realism *= exp(-reprojection L1 / tau); 0 = critic only
    flip_average: bool = False  # inference: mean of the pose and the unmirrored pose of the
    #                             mirrored input (test-time flip; `export --flip-average`)


@dataclass
class LossConfig:
    mode: str = 'unsupervised'          # 'unsupervised' | 'supervised'
    scale: float = 10.0                 # the thesis multiplies the whole generator loss by 10
    rec: float = 1.0
    adv: float = 1e-2                   # thesis: 1e-3 (too weak for short runs, see card)
    kl_peak: float = 1e-3
    kl_schedule: str = 'cyclic'         # 'cyclic' (thesis text) | 'hpe3d_code' (code's bug)
    kl_warmup: int = 10
    kl_period: int = 40
    kl_hold: int = 10
    kl_floor: float = 1e-5              # beta never below this (thesis 0: logvar runs away)
    real_label_low: float = 0.7
    real_label_high: float = 1.0        # thesis: 1.2 (invalid BCE target)
    rotation_deg: float = 180.0         # novel view: theta ~ U(-r, r) about the view axis
    view_axis: str = 'camera_y'         # 'camera_y' (thesis) | 'body_tilt': the lifted body's
    #                                     up axis tilted about camera x (cameras looking down)
    critic_eval_for_generator: bool = True   # thesis: False (dropout active)
    renormalise_views: bool = True      # thesis: False (critic can use the 2D scale cue)
    consistency_3d: float = 0.1         # Chen et al. 2019 lift-rotate-project-lift, 3D term
    consistency_2d: float = 0.1         # ... and its reprojection onto the input
    relift_updates_bn: bool = False     # True: the re-lift also updates BatchNorm running stats
    face_forward: float = 0.1           # chirality prior weight (nose in front of the body)
    face_margin: float = 0.0
    view_residual: bool = False         # critic sees novel views + the input's residual/holes
    knee_forward: float = 0.0           # knees-bend-forward prior weight (per-leg chirality)
    bone_symmetry: float = 0.0          # left/right bone-length symmetry prior weight


@dataclass
class TrainConfig:
    epochs: int = 400
    batch: int = 2560               # global batch (split over DDP ranks)
    lr: float = 2e-4
    critic_lr: float = 2e-4
    lr_schedule: str = 'constant'   # 'constant' | 'cosine' (both optimisers, per epoch)
    lr_min_ratio: float = 0.05      # cosine: final lr = lr * this
    ema: float = 0.0                # >0: evaluate/export an EMA of the generator (decay/step)
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    clip_critic: float = 1.0
    clip_generator: float = 2.0     # per module (encoder, decoder)
    clip_value: float = 1000.0
    seed: int = 400
    device: str = 'auto'            # 'auto' | 'cpu' | 'cuda' | 'cuda:N'
    threads: int = 0                # torch CPU threads, 0 = torch's default
    eval_every: int = 1
    select_metric: str = 'n_mpjpe'  # validation metric for best.pt: 'n_mpjpe' | 'pa_mpjpe'
    #                                 or 2D-only (selection.py): 'crit_2d' | 'reproj_2d' | ...
    init_from: str = ''             # start from this checkpoint.pt or exported model.onnx
    realism_percentile: float = 5.0  # threshold = this percentile of real validation realism
    progress: bool = True
    plots: bool = True
    umap: bool = True               # False: PCA instead of UMAP for the latent plot (fast)


@dataclass
class Config:
    preset: str = 'default'
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml())

    def validate(self) -> Config:
        if self.loss.mode not in ('unsupervised', 'supervised'):
            raise ConfigError(f'loss.mode must be unsupervised or supervised, not '
                              f'{self.loss.mode!r}')
        if self.loss.kl_schedule not in ('cyclic', 'hpe3d_code'):
            raise ConfigError(f'loss.kl_schedule {self.loss.kl_schedule!r} is unknown')
        if self.loss.view_axis not in ('camera_y', 'body_tilt'):
            raise ConfigError(f'loss.view_axis must be camera_y or body_tilt, not '
                              f'{self.loss.view_axis!r}')
        if self.train.lr_schedule not in ('constant', 'cosine'):
            raise ConfigError('train.lr_schedule must be constant or cosine')
        if not 0.0 <= self.train.ema < 1.0:
            raise ConfigError('train.ema must be in [0, 1)')
        if self.train.select_metric not in SELECT_METRICS:
            raise ConfigError(f'train.select_metric must be one of {list(SELECT_METRICS)}')
        if self.train.select_metric not in ('n_mpjpe', 'pa_mpjpe') and not self.data.unlabelled:
            raise ConfigError(f'train.select_metric {self.train.select_metric} needs 2D data '
                              '(data.unlabelled)')
        if not self.data.path and not self.data.unlabelled:
            raise ConfigError('no training data: set data.path (3D) or data.unlabelled (2D)')
        if not 0.0 <= self.loss.real_label_low <= self.loss.real_label_high:
            raise ConfigError('need 0 <= loss.real_label_low <= loss.real_label_high')
        if min(self.model.width, self.model.latent, self.model.critic_width,
               self.train.batch, self.model.critic_views) < 1:
            raise ConfigError('sizes and batch must be positive')
        if self.model.logvar_init not in ('kaiming', 'zero') or \
                self.model.output_init not in ('kaiming', 'small'):
            raise ConfigError('model.logvar_init: kaiming|zero, model.output_init: kaiming|small')
        if self.loss.kl_hold >= self.loss.kl_period:
            raise ConfigError('loss.kl_hold must be shorter than loss.kl_period')
        d = self.data
        for a, b in (('train', 'val'), ('train', 'test'), ('val', 'test')):
            shared = set(getattr(d, f'{a}_subjects')) & set(getattr(d, f'{b}_subjects'))
            if shared:
                raise ConfigError(f'data.{a}_subjects and data.{b}_subjects share '
                                  f'{sorted(shared)}: splits must be disjoint')
        return self


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Dataclass ``cls`` from a (partial) dict; unknown keys raise ConfigError."""
    if not isinstance(values, dict):
        raise ConfigError(f'{where or "config"} must be a mapping, got {type(values).__name__}')
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f'unknown config key {where + key!r}; known: {sorted(known)}')
        default = getattr(cls(), key) if key in known else None
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value or {}, f'{where}{key}.')
        else:
            kwargs[key] = _coerce(value, default, where + key)
    return cls(**kwargs)


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Check a leaf value against the type of its default (ints may fill float fields)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        if isinstance(value, str):   # YAML 1.1 reads '1e-3' (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
        if not ok and isinstance(value, (int, float)):
            value, ok = str(value), True
    elif isinstance(default, list):
        ok = isinstance(value, list)
        if ok and default and isinstance(default[0], str):
            value = [str(v) for v in value]
    else:
        ok = True
    if not ok:
        raise ConfigError(f'config key {key!r} expects {type(default).__name__}, got {value!r}')
    return value


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def preset_path(name: str) -> Path:
    """Path of a preset YAML (``training/configs`` or the installed package data)."""
    if name not in PRESETS:
        raise ConfigError(f'unknown preset {name!r}; choose one of {list(PRESETS)}')
    local = Path(__file__).resolve().parents[1] / 'configs' / f'{name}.yaml'
    if local.is_file():
        return local
    try:
        return Path(str(resources.files('pose_lifter_training.configs') / f'{name}.yaml'))
    except ModuleNotFoundError:
        raise ConfigError(f'preset file {name}.yaml not found') from None


def _read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'config file not found: {path}')
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path}: not valid YAML ({exc})') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: a config must be a mapping')
    return data


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``['model.width=256', 'train.epochs=5']`` -> nested dict; values parsed as YAML."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f'override {item!r} is not KEY=VALUE')
        try:
            value = yaml.safe_load(raw) if raw.strip() else ''
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.strip().split('.')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def load_config(preset: str = 'default', config_file: str | Path | None = None,
                overrides: list[str] | None = None) -> Config:
    """Preset YAML, then ``config_file`` (full or partial), then ``--set`` overrides."""
    values = _read_yaml(preset_path(preset))
    values['preset'] = preset
    if config_file:
        values = _merge(values, _read_yaml(config_file))
    values = _merge(values, parse_overrides(overrides or []))
    return _build(Config, values, '').validate()


def config_from_dict(values: dict[str, Any]) -> Config:
    """Rebuild a saved config (checkpoints, config.yaml)."""
    return _build(Config, values, '').validate()


def load_config_file(path: str | Path) -> Config:
    return config_from_dict(_read_yaml(path))
