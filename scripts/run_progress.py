"""Validation history of training runs, read from their last.pt (works while they train).

  .venv/bin/python scripts/run_progress.py runs/A runs/B          # per-epoch history
  .venv/bin/python scripts/run_progress.py --best runs/A runs/B   # best epoch (val N-MPJPE)
"""
import argparse

import torch

KEYS = ('mpjpe', 'n_mpjpe', 'pa_mpjpe', 'mirror_rate')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('runs', nargs='+')
    ap.add_argument('--best', action='store_true', help='one row per run: its best epoch')
    args = ap.parse_args()
    if args.best:
        print('| run | epochs | best epoch | ' + ' | '.join(KEYS) + ' |')
        print('|---' * (len(KEYS) + 3) + '|')
    for path in args.runs:
        hist = torch.load(f'{path}/last.pt', map_location='cpu', weights_only=False)['history']
        rows = [(h['epoch'], h['seconds'], h['val']) for h in hist if h.get('val')]
        if args.best:
            e, _, v = min(rows, key=lambda r: r[2]['n_mpjpe'])
            print(f'| {path} | {len(hist)} | {e} | ' +
                  ' | '.join(f'{v[k]:.1f}' if k != 'mirror_rate' else f'{100 * v[k]:.1f} %'
                             for k in KEYS) + ' |')
        else:
            print(path, [(e, round(s), round(v['n_mpjpe']), round(v['pa_mpjpe']),
                          round(v['mirror_rate'], 2)) for e, s, v in rows])


if __name__ == '__main__':
    main()
