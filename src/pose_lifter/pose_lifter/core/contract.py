"""The model contract: the JSON that makes an exported model self-describing
(docs/model-contract.md).

It travels in the ONNX ``metadata_props`` under the key ``pose_lifter`` and in every training
checkpoint. The node and the CLI refuse a model whose contract they do not understand.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .errors import PoseLifterInputError, clip
from .normalization import NormalisationSpec
from .skeleton import H36M17

METADATA_KEY = 'pose_lifter'
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
INPUT_NAMES = ('keypoints', 'noise')
OUTPUT_NAMES = ('pose3d', 'realism')


class ContractError(PoseLifterInputError):
    """A model file without a usable contract."""


@dataclass
class ModelContract:
    """Everything needed to use a lifting model without its training code."""

    latent_dim: int
    bone_sum_m: float                     # body-size prior: expected sum of bone lengths, m
    realism_threshold: float              # calibrated on validation data, see realism_rule
    realism_rule: str = ''
    # the input the threshold was calibrated on: {'joint_format', 'noise' (DetectorNoise
    # fields), 'subjects', 'percentile'}; empty = exact H36M-17 projections
    realism_calibration: dict = field(default_factory=dict)
    # per-joint 90 % radii (seen / inferred joints) and the root's relative depth/lateral error
    # (core.uncertainty.UncertaintyCalibration.to_dict); empty = no calibrated uncertainty
    uncertainty_calibration: dict = field(default_factory=dict)
    # realism from this frame and the track's previous detection (core.track_gate.TrackGate
    # .to_dict); empty = the node and eval judge each frame alone
    track_gate: dict = field(default_factory=dict)
    critic_views_deg: list[float] = field(default_factory=list)
    normalisation: NormalisationSpec = field(default_factory=NormalisationSpec)
    joint_format: str = H36M17.name
    joint_names: list[str] = field(default_factory=lambda: list(H36M17.joint_names))
    parents: list[int] = field(default_factory=lambda: list(H36M17.parents))
    output_units: str = 'body_units'
    format_version: int = FORMAT_VERSION
    content_hash: str = ''
    training: dict = field(default_factory=dict)   # config, data sources, metrics
    inputs: list[str] = field(default_factory=lambda: list(INPUT_NAMES))
    outputs: list[str] = field(default_factory=lambda: list(OUTPUT_NAMES))

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def input_dim(self) -> int:
        return (self.num_joints - 1) * 2

    def to_json(self) -> str:
        d = asdict(self)
        d['normalisation'] = self.normalisation.to_dict()
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> 'ModelContract':
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError(f'model contract is not valid JSON: {exc}') from None
        if not isinstance(d, dict):
            raise ContractError('model contract is not a JSON object')
        version = d.get('format_version')
        if version not in SUPPORTED_VERSIONS:
            raise ContractError(f'model contract format_version {clip(version)} is not supported '
                                f'(this pose_lifter understands {list(SUPPORTED_VERSIONS)})')
        if d.get('joint_format') != H36M17.name or \
                tuple(d.get('parents', ())) != H36M17.parents:
            raise ContractError(f'model skeleton {clip(d.get("joint_format"))} is not supported '
                                f'(expected {H36M17.name} with its parent table)')
        try:
            d['normalisation'] = NormalisationSpec.from_dict(d['normalisation'])
            known = set(cls.__dataclass_fields__)
            return cls(**{k: v for k, v in d.items() if k in known})
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(f'model contract is incomplete or invalid: {exc}') from None
