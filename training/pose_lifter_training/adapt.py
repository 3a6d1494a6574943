"""Start a run from an existing model: a training checkpoint or any exported ONNX model.

The exporter keeps the torch parameter names on the ONNX initializers, except for the bias-free
Linear layers of the residual blocks, which become anonymous ``MatMul`` weights (transposed);
those are named here by the BatchNormalization that follows them. The architecture comes from
the contract's ``training.config.model`` when present, else from the weight shapes, so any
exported model can be fine-tuned (``train.init_from``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose_lifter.core.contract import METADATA_KEY, ContractError, ModelContract

from .checkpoint import CheckpointError, load_checkpoint
from .config import Config, ModelConfig
from .sources2d import Source2DError, load_2d

# Body-size prior for a run without any 3D and without an init model: the mean total bone length
# of the CMU training subjects (the shipped model's contract, models/MODEL_CARD.md).
DEFAULT_BONE_SUM_M = 3.943


@dataclass
class InitModel:
    """Weights and metadata of the model a run starts from."""

    generator: dict[str, torch.Tensor]
    critic: dict[str, torch.Tensor]
    model: dict[str, Any]               # ModelConfig fields of its architecture
    bone_sum_m: float | None
    mean_pose: np.ndarray | None        # (J-1, 3) body units
    source: str


def _bn_owner(name: str) -> str | None:
    """'x.body.0.1.weight' (BatchNorm scale) -> 'x.body.0.0.weight' (the Linear before it)."""
    head, sep, tail = name.rpartition('.1.weight')
    return head + '.0.weight' if sep and not tail else None


def read_model(path: str | Path) -> tuple[Any, ModelContract]:
    """An exported model's ONNX proto and its contract. Raises CheckpointError for a file that
    is not a readable ONNX model or has no valid pose_lifter contract."""
    import onnx
    try:
        proto = onnx.load(str(path))
    except Exception as exc:
        raise CheckpointError(f'{path}: not a readable ONNX model ({type(exc).__name__})'
                              ) from None
    props = {p.key: p.value for p in proto.metadata_props}
    try:
        return proto, ModelContract.from_json(props[METADATA_KEY])
    except KeyError:
        raise CheckpointError(f'{path}: no {METADATA_KEY!r} contract in the model metadata'
                              ) from None
    except ContractError as exc:
        raise CheckpointError(f'{path}: {exc}') from None


def onnx_state(path: str | Path, member: int = 0
               ) -> tuple[dict[str, np.ndarray], ModelContract]:
    """Torch-named weights of an exported model and its contract. Raises CheckpointError.

    Of an ensemble (``ensemble.py``: weights named ``members.K.*``) the weights of ``member``;
    of a gated model (``gate.py``: ``base.*`` and the gate's ``head.*``) its lifter's.
    """
    from onnx import numpy_helper
    proto, contract = read_model(path)
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    # weights kept outside the graph: export.carry_weights (the critic of a gate that does
    # not run it) and graph_opt.fold_batchnorm (the tensors a fold replaced)
    for info in proto.training_info:
        inits.update({i.name: numpy_helper.to_array(i) for i in info.initialization.initializer})
    prefix = f'members.{member}.' if any(k.startswith('members.') for k in inits) else ''
    if any(k.startswith('base.generator.') for k in inits):
        prefix = 'base.' + prefix
    state = {k[len(prefix):]: v.copy() for k, v in inits.items()
             if k.startswith((prefix + 'generator.', prefix + 'critic.'))}
    consumers: dict[str, list] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in proto.graph.node:
        if node.op_type != 'MatMul' or node.input[1] not in inits or \
                node.input[1].startswith(('members.', 'generator.', 'critic.', 'base.',
                                          'head.')):   # named
            continue
        for nxt in consumers.get(node.output[0], []):
            if nxt.op_type == 'BatchNormalization':
                owner = _bn_owner(nxt.input[1])
                if owner and owner.startswith(prefix):
                    state[owner[len(prefix):]] = inits[node.input[1]].T.copy()
    return state, contract


def _infer_model(state: dict[str, Any], contract: ModelContract) -> dict[str, Any]:
    """ModelConfig fields from the weight shapes (models exported without a config)."""
    def count(prefix: str) -> int:
        return len({k[len(prefix):].split('.')[0] for k in state if k.startswith(prefix)})
    return {'width': int(state['generator.encoder.stem.0.weight'].shape[0]),
            'latent': int(contract.latent_dim),
            'blocks': count('generator.encoder.blocks.'),
            'critic_width': int(state['critic.stem.0.weight'].shape[0]),
            'critic_blocks': count('critic.blocks.'),
            'critic_views': len(contract.critic_views_deg)}


def read_init(path: str | Path, member: int = 0) -> InitModel:
    """A checkpoint (.pt) or an exported model (.onnx; of an ensemble, its ``member``) ->
    InitModel. Raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'init model not found: {path}')
    known = {f.name for f in fields(ModelConfig)}
    if path.suffix == '.onnx':
        state, contract = onnx_state(path, member)
        cfg = contract.training.get('config', {}) if isinstance(contract.training, dict) else {}
        model = {k: v for k, v in (cfg.get('model') or {}).items() if k in known} or \
            _infer_model(state, contract)
        mean = contract.training.get('mean_pose_units')
        tensors = {k: torch.as_tensor(v) for k, v in state.items()}
        return InitModel({k[10:]: v for k, v in tensors.items() if k.startswith('generator.')},
                         {k[7:]: v for k, v in tensors.items() if k.startswith('critic.')},
                         model, contract.bone_sum_m,
                         None if mean is None else np.asarray(mean, np.float64), str(path))
    ckpt = load_checkpoint(path)
    contract = json.loads(ckpt['contract'])
    model = {k: v for k, v in ckpt['config'].get('model', {}).items() if k in known}
    mean = ckpt.get('mean_pose')
    return InitModel(ckpt['generator'], ckpt['critic'], model, contract.get('bone_sum_m'),
                     None if mean is None else np.asarray(mean, np.float64), str(path))


def adopt_architecture(cfg: Config, init: InitModel) -> list[str]:
    """Set ``cfg.model`` to the init model's architecture; returns the changed keys."""
    changed = []
    for key, value in init.model.items():
        if getattr(cfg.model, key) != value:
            setattr(cfg.model, key, type(getattr(cfg.model, key))(value))
            changed.append(f'model.{key}={value}')
    return changed


def load_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str,
                 source: str) -> None:
    """Copy ``state`` into ``module``; only BatchNorm's num_batches_tracked may be absent."""
    own = module.state_dict()
    bad = [f'{k} {tuple(v.shape)} vs {tuple(own[k].shape)}' for k, v in state.items()
           if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
    if bad or missing:
        raise CheckpointError(f'{source}: the {what} weights do not fit this architecture '
                              f'(shape {bad[:3]}, missing {missing[:3]}); leave model.* to the '
                              'init model')
    module.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


def attach(run, splits) -> None:
    """Hook of ``train.Run``: init weights (``train.init_from``), the no-3D fallbacks of the
    body-size prior and mean pose, and the held-out 2D rows of the selection criterion."""
    cfg = run.cfg
    init = read_init(cfg.train.init_from) if cfg.train.init_from else None
    if init is not None:
        load_weights(run.generator, init.generator, 'generator', init.source)
        if init.critic:
            load_weights(run.critic, init.critic, 'critic', init.source)
        else:   # a gate trained without the realism feature exports no critic
            print(f'{init.source} has no critic weights (a gate without the realism feature): '
                  'the critic starts untrained', flush=True)
        ema = getattr(run, 'ema', None)
        if ema is not None:
            ema.load_state_dict(run.generator.state_dict())
    if not np.isfinite(run.bone_sum):
        run.bone_sum = float(init.bone_sum_m) if init is not None and init.bone_sum_m \
            else DEFAULT_BONE_SUM_M
    if len(splits.train) == 0 and init is not None and init.mean_pose is not None:
        run.mean_pose = init.mean_pose
    run.heldout_2d = None
    if cfg.data.unlabelled:
        add_unlabelled(run)
    run.data_info['init_from'] = cfg.train.init_from
    held = 0 if run.heldout_2d is None else len(run.heldout_2d)
    if cfg.train.select_metric not in ('n_mpjpe', 'pa_mpjpe') and held == 0:
        raise Source2DError(f'train.select_metric={cfg.train.select_metric} needs held-out 2D '
                            'rows, and data.unlabelled gave none: raise '
                            'data.unlabelled_holdout or use a longer recording')
    if len(splits.val) == 0 and cfg.train.select_metric in ('n_mpjpe', 'pa_mpjpe'):
        cfg.train.select_metric = 'crit_2d'   # no 3D validation: select on held-out 2D
        if run.info.main:
            print('no 3D validation set: best.pt is selected by train.select_metric=crit_2d '
                  '(held-out 2D)')


def add_unlabelled(run) -> None:
    """Append the training rows of ``data.unlabelled`` to the run's 2D-only rows and keep
    its held-out rows for the selection criterion (``run.heldout_2d``)."""
    d = run.cfg.data
    src = load_2d(d.unlabelled, d.unlabelled_keypoints_topic or None,
                  d.unlabelled_camera_info_topic or None, d.unlabelled_min_confidence,
                  d.unlabelled_min_joints, d.unlabelled_holdout, d.unlabelled_block_s)
    if run.info.main:
        print(src.summary())
    td = run.train_data
    td.extra_visible = np.concatenate([td.extra_visible, src.train.visible])
    td.extra = np.concatenate([td.extra, src.train.inputs])
    run.heldout_2d = src.heldout
    run.data_info['unlabelled'] = {**src.info, 'skipped': src.skipped,
                                   'train_rows': len(src.train), 'heldout_rows': len(src.heldout)}
    run.data_info['extra_2d_rows'] = len(td.extra)


def lifting_model(path: str | Path, member: int = 0):
    """An inference LiftingModel (eval mode, CPU) from a checkpoint or an exported model (of
    an exported ensemble, its ``member``)."""
    from .checkpoint import restore
    from .config import LossConfig
    from .models import build_lifting_model, build_networks
    path = Path(path)
    if path.suffix != '.onnx':
        cfg, generator, critic, _ = restore(load_checkpoint(path))
        return build_lifting_model(generator, critic, cfg.model, cfg.loss).eval()
    init = read_init(path, member)
    model_cfg = ModelConfig(**init.model)
    loss = LossConfig()
    _, contract = onnx_state(path, member)
    saved = (contract.training.get('config') or {}).get('loss', {})
    loss.renormalise_views = bool(saved.get('renormalise_views', loss.renormalise_views))
    loss.view_axis = str(saved.get('view_axis', loss.view_axis))
    generator, critic = build_networks(model_cfg)
    load_weights(generator, init.generator, 'generator', init.source)
    if not init.critic:
        raise CheckpointError(f'{path} has no critic weights (its gate was trained without '
                              'the realism feature): use the lifter it was gated from')
    load_weights(critic, init.critic, 'critic', init.source)
    return build_lifting_model(generator, critic, model_cfg, loss).eval()
