#!/usr/bin/env bash
# The temporal filter on the demo replay: the `make demo` bag replayed through the live node
# twice, with the filter (the default) and without, scored side by side.
#   bash scripts/filter_compare.sh            -> out/filter/{on,off}, out/filter/report
# Needs `make demo` to have made out/demo/input (or makes it the same way).
set -euo pipefail
cd "$(dirname "$0")/.."
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-44}
bin=.venv/bin
out=out/filter
input=out/demo/input
if [ ! -d "$input" ]; then
  mkdir -p out/demo
  $bin/pose-lifter bag make models/demo_poses.npz --out "$input" --joint-format coco17 \
    --noise-px 1.5 --persons 2 --corrupt-prob 0.1 --fps 15 >/dev/null
fi
rm -rf "$out" && mkdir -p "$out"
$bin/pose-lifter bag replay "$input" --out "$out/off" --param temporal_filter:=false >/dev/null
$bin/pose-lifter bag replay "$input" --out "$out/on" >/dev/null
$bin/pose-lifter bag score "$out/on" --compare "$out/off" --report "$out/report" \
  --json "$out/report/score.json" | sed -n '1,40p'
$bin/python - "$out/report/score.json" <<'EOF'
import json, sys
comp = json.load(open(sys.argv[1]))['comparison']['metrics']
for key, m in comp.items():
    print(f"{key}: on {m['value']:.4g}, off {m['other']:.4g}, change {100 * m['change_rel']:+.1f} %")
EOF
