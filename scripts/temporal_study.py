"""Choose the temporal filter by measurement: run core.temporal offline over the node's
unfiltered outputs of a replay (``bag replay ... --param temporal_filter:=false``) and print
the acceleration error and MPJPE of the real persons for each filter kind and setting.

    .venv/bin/python scripts/temporal_study.py out/demo/replay_raw [--all-persons]
    [--default-only]
"""
from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

from pose_lifter.bag.io import GT, SKELETONS, BagReader
from pose_lifter.bag.jitter import acceleration_error, triplets
from pose_lifter.bag.tables import match, person_table
from pose_lifter.core.metrics import per_joint_error, root_align
from pose_lifter.core.temporal import Kalman, OneEuro, TemporalConfig, TemporalFilter


def run_filter(pred, cfg: TemporalConfig | None, all_persons: bool = False) -> np.ndarray:
    """Filtered joints (N, 17, 3) of a PersonTable, frame by frame in stamp order; as in the
    node, only the persons the replay marked plausible update their tracks (``all_persons``:
    every lifted person does, as the node did before)."""
    if cfg is None:
        return pred.joints
    f = TemporalFilter(cfg)
    out = pred.joints.copy()
    order = np.lexsort((pred.frame_id, pred.stamp))
    keys = list(zip(pred.stamp[order].tolist(), pred.frame_id[order].tolist()))
    start = 0
    for k in range(1, len(order) + 1):
        if k == len(order) or keys[k] != keys[start]:
            rows = order[start:k]
            out[rows] = f.update(keys[start][1], keys[start][0], pred.id[rows].tolist(),
                                 pred.joints[rows],
                                 use=None if all_persons else pred.plausible[rows])
            start = k
    return out


def evaluate(pred, gt, joints) -> dict:
    a, b = match(pred, gt)
    real = gt.status[b] == 'gt'
    a, b = a[real], b[real]
    lifted = np.isfinite(joints[a]).all(axis=(1, 2))
    a, b = a[lifted], b[lifted]
    p, g = joints[a] * 1000, gt.joints[b] * 1000
    err = per_joint_error(root_align(p), root_align(g)).mean()
    rows = triplets(pred.stamp[a], pred.frame_id[a], pred.id[a])
    acc = acceleration_error(p, g, rows)
    root = np.linalg.norm(p[:, 0] - g[:, 0], axis=-1).mean() / 1000
    return {'mpjpe': round(float(err), 2), 'accel': round(acc['accel_error_mm'], 2),
            'root_accel': round(acc['root_accel_error_mm'], 1), 'root_err_m': round(root, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('replay')
    ap.add_argument('--all-persons', action='store_true',
                    help='every lifted person updates its track, implausible ones too (the '
                    'node before it fed the filter its plausible persons only)')
    ap.add_argument('--default-only', action='store_true',
                    help="only the node's default setting")
    args = ap.parse_args()
    with BagReader(args.replay) as r:
        pred, gt = person_table(r, SKELETONS), person_table(r, GT)
    print('raw', json.dumps(evaluate(pred, gt, pred.joints)))
    # (pose, ray, depth): the node's default first (config/lifter.yaml), then neighbours and
    # Kalman filters (their steady state depends on noise/accel only through the ratio)
    settings = [(OneEuro(0.7, 10.0), OneEuro(2.0, 5.0), OneEuro(0.5, 5.0))]
    settings += [(OneEuro(*p), OneEuro(2.0, 5.0), OneEuro(0.5, 5.0))
                 for p in ((1.0, 3.0), (1.0, 5.0), (0.8, 3.0), (1.0, 2.0), (1.5, 3.0),
                           (0.5, 10.0), (0.3, 10.0), (0.5, 5.0), (0.5, 20.0), (0.3, 20.0))]
    settings += [(OneEuro(0.7, 10.0), OneEuro(*r), OneEuro(*d))
                 for r, d in (((2.0, 5.0), (0.2, 0.5)), ((2.0, 5.0), (1.0, 10.0)),
                              ((1000.0, 0.0), (1000.0, 0.0)))]
    settings += [(Kalman(*p), Kalman(0.002, 0.5), Kalman(*d))
                 for p, d in itertools.product(((0.05, 3.0), (0.1, 3.0), (0.1, 2.0)),
                                               ((0.05, 0.3), (0.1, 0.1)))]
    for pose, ray, depth in settings[:1] if args.default_only else settings:
        cfg = TemporalConfig(pose, ray, depth, jump_m=0.75, jump_depth=0.3, timeout_s=1.0,
                             max_tracks=256, associate=False, associate_gate_m=1.0)
        print(pose, ray, depth, json.dumps(evaluate(pred, gt, run_filter(pred, cfg,
                                                                          args.all_persons))))

if __name__ == '__main__':
    main()
