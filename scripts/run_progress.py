"""Print a run's validation history from its last.pt (while it trains)."""
import sys

import torch

for path in sys.argv[1:]:
    ck = torch.load(f'{path}/last.pt', map_location='cpu', weights_only=False)
    print(path, [(h['epoch'], round(h['seconds']), round(h['val'].get('n_mpjpe', 0)),
                  round(h['val'].get('pa_mpjpe', 0)), round(h['val'].get('mirror_rate', 0), 2))
                 for h in ck['history']])
