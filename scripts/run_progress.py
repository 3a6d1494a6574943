"""Validation history of training runs, read from their last.pt (works while they train).

  .venv/bin/python scripts/run_progress.py runs/A runs/B          # per-epoch history
  .venv/bin/python scripts/run_progress.py --best runs/A runs/B   # best epoch (val N-MPJPE)
  .venv/bin/python scripts/run_progress.py --seeds runs/base20-s*  # mean +- sd over seeds
  .venv/bin/python scripts/run_progress.py --seeds runs/dnoisy-s* --plot curves.png

Fit runs (``pose-lifter-train fit``) and distillation runs (``pose-lifter-train distill``,
whose history rows are the validation metrics themselves) alike.

``--seeds`` also reports the stability of each run: the worst validation N-MPJPE of any epoch
after the best one, relative to the best (the model card's "no epoch after the best is worse
than the best by more than 10 %").
"""
import argparse

import numpy as np
import torch

KEYS = ('mpjpe', 'n_mpjpe', 'pa_mpjpe', 'mirror_rate')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('runs', nargs='+')
    ap.add_argument('--best', action='store_true', help='one row per run: its best epoch')
    ap.add_argument('--seeds', action='store_true', help='mean +- sd of the runs (seeds)')
    ap.add_argument('--plot', help='also plot validation N-MPJPE / PA-MPJPE per epoch here')
    args = ap.parse_args()
    if args.plot:
        plot(args.runs, args.plot)
    if args.seeds:
        seeds(args.runs)
        return
    if args.best:
        print('| run | epochs | best epoch | ' + ' | '.join(KEYS) + ' |')
        print('|---' * (len(KEYS) + 3) + '|')
    for path in args.runs:
        hist = history(path)
        rows = [(h['epoch'], h['seconds'], h['val']) for h in hist if h.get('val')]
        if args.best:
            e, _, v = min(rows, key=lambda r: r[2]['n_mpjpe'])
            print(f'| {path} | {len(hist)} | {e} | ' +
                  ' | '.join(f'{v[k]:.1f}' if k != 'mirror_rate' else f'{100 * v[k]:.1f} %'
                             for k in KEYS) + ' |')
        else:
            print(path, [(e, round(s), round(v['n_mpjpe']), round(v['pa_mpjpe']),
                          round(v['mirror_rate'], 2)) for e, s, v in rows])


def history(path: str) -> list[dict]:
    """Per-epoch rows with 'epoch', 'seconds' and 'val' (the validation metrics)."""
    hist = torch.load(f'{path}/last.pt', map_location='cpu', weights_only=False)['history']
    return [h if 'val' in h or 'train' in h else
            {'epoch': h['epoch'], 'seconds': h.get('seconds', 0.0), 'val': h} for h in hist]


def plot(runs: list[str], out: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for path in runs:
        rows = [(h['epoch'], h['val']) for h in history(path) if h.get('val')]
        for ax, key in zip(axes, ('n_mpjpe', 'pa_mpjpe')):
            ax.plot([e for e, _ in rows], [v[key] for _, v in rows], 'o-', ms=3,
                    label=path.rstrip('/').split('/')[-1])
    for ax, label in zip(axes, ('validation N-MPJPE (mm)', 'validation PA-MPJPE (mm)')):
        ax.set_xlabel('epoch')
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(f'wrote {out}')


def seeds(runs: list[str]) -> None:
    """Best epoch per run, mean +- sd over runs, and the drift after the best epoch."""
    best, drift = [], []
    for path in runs:
        rows = [h for h in history(path) if h.get('val')]
        vals = [h['val'] for h in rows]
        n = np.array([v['n_mpjpe'] for v in vals])
        i = int(n.argmin())
        best.append([vals[i][k] for k in KEYS])
        drift.append(float(n[i:].max() / n[i] - 1.0))
        print(f'{path}: epochs {len(vals)}, best epoch {rows[i]["epoch"]}, ' +
              ', '.join(f'{k} {vals[i][k]:.3f}' for k in KEYS) +
              f', worst after best +{100 * drift[-1]:.1f} %')
    b = np.array(best)
    print(f'mean +- sd over {len(runs)} runs: ' + ', '.join(
        f'{k} {m:.1f} +- {s:.1f}' for k, m, s in zip(KEYS, b.mean(0), b.std(0, ddof=1)
                                                      if len(b) > 1 else np.zeros(len(KEYS)))) +
        f'; worst drift after best +{100 * max(drift):.1f} %')


if __name__ == '__main__':
    main()
