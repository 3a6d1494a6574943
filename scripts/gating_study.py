"""Which realism score separates real from corrupted 2D best? (validation subject only)

Scores compared, per person (higher = more plausible):
  views    mean critic score over the fixed novel views of the lifted pose (DESIGN §5)
  input    critic score of the input 2D itself
  reproj   minus the reprojection error of the lifted pose onto the input
  and products of them. Prints ROC-AUC per corruption kind as JSON.

  .venv/bin/python scripts/gating_study.py runs/NAME/best.pt [--data POSES] [--subjects 14]
"""
import argparse
import json

import numpy as np
import torch

from pose_lifter.core.camera import pixels_to_normalized
from pose_lifter.core.cameras import eval_views
from pose_lifter.core.corruptions import corrupt_mixed
from pose_lifter.core.metrics import roc_auc
from pose_lifter.core.normalization import normalise
from pose_lifter.core.poses import load_pose_file
from pose_lifter_training.checkpoint import load_checkpoint, restore
from pose_lifter_training.models import build_lifting_model, reprojection_error


def scores(model, px, K):
    norm = normalise(pixels_to_normalized(px, K))
    x = torch.from_numpy(norm.inputs[norm.ok])
    with torch.no_grad():
        latent = model.generator.decoder.stem[0].in_features
        pose, _, _ = model.generator(x, torch.zeros(len(x), latent))
        views = model.realism(pose)
        inp = model.critic(x.reshape(len(x), -1))
        rep = reprojection_error(pose, x)
    return {'views': views.numpy(), 'input': inp.numpy(), 'reproj': -rep.numpy()}, norm.ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('checkpoint')
    ap.add_argument('--data', default='data/cmu_mocap_h36m17.npz', help='pose file (make data)')
    ap.add_argument('--subjects', default='14')
    ap.add_argument('--fps', type=float, default=5.0)
    args = ap.parse_args()
    cfg, gen, critic, _ = restore(load_checkpoint(args.checkpoint))
    model = build_lifting_model(gen, critic, cfg.model, cfg.loss).eval()
    poses = load_pose_file(args.data).subjects_only(args.subjects.split(',')).subsample(args.fps)
    _, px, K = eval_views(poses.joints)
    bad, kinds = corrupt_mixed(px, np.random.default_rng(0))
    real, ok_r = scores(model, px, K)
    fake, ok_f = scores(model, bad, K)
    kinds = kinds[ok_f]
    for d in (real, fake):
        d['views*input'] = d['views'] * d['input']
        for tau in (0.005, 0.01, 0.02):
            d[f'views*exp(reproj/{tau})'] = d['views'] * np.exp(d['reproj'] / tau)
            d[f'input*exp(reproj/{tau})'] = d['input'] * np.exp(d['reproj'] / tau)
            d[f'views*input*exp(reproj/{tau})'] = d['views*input'] * np.exp(d['reproj'] / tau)
    out = {}
    for name in real:
        row = {'all': roc_auc(real[name], fake[name])}
        row.update({k: roc_auc(real[name], fake[name][kinds == k]) for k in np.unique(kinds)})
        out[name] = {k: round(float(v), 3) for k, v in row.items()}
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
