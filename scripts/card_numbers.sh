#!/usr/bin/env bash
# Every number of models/MODEL_CARD.md on the test subject, from the shipped files alone:
#   bash scripts/card_numbers.sh            -> out/card/*.json and the tables on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-43}
bin=.venv/bin
out=out/card
mkdir -p "$out"
data=models/demo_poses.npz   # test subject 07, all clips, 30 fps (eval subsamples to 10 fps)
for run in "default:--model models/default.onnx" "ensemble:--model models/ensemble.onnx" \
           "supervised:--model models/supervised.onnx" "zero_depth:--baseline zero_depth" "mean_pose:--baseline mean_pose" \
           "default_raw:--model models/default.onnx --no-anchor"; do
  name=${run%%:*}
  echo "== $name"
  # shellcheck disable=SC2086
  $bin/pose-lifter eval --data "$data" ${run#*:} --json "$out/$name.json" --table
done
# COCO-17 adapter cost: the same poses as a COCO-17 vs an H36M-17 bag through the live node.
for fmt in h36m17 coco17; do
  rm -rf "$out/bag_$fmt" "$out/replay_$fmt"
  $bin/pose-lifter bag make "$data" --out "$out/bag_$fmt" --joint-format "$fmt" --fps 10 >/dev/null
  $bin/pose-lifter bag replay "$out/bag_$fmt" --out "$out/replay_$fmt" --rate 2 >/dev/null
  echo "== bag $fmt"
  $bin/pose-lifter bag score "$out/replay_$fmt" --json "$out/bag_$fmt.json" | sed -n '1,9p'
done
# Detector-like input: COCO-17 keypoints with 4 px noise and 5 % of the joints dropped (the
# model card's field numbers), then the curve against noise 0-8 px.
for run in "default:--model models/default.onnx" "ensemble:--model models/ensemble.onnx" \
           "supervised:--model models/supervised.onnx"; do
  name=${run%%:*}
  echo "== $name, COCO-17, 4 px, 5 % dropped"
  # shellcheck disable=SC2086
  $bin/pose-lifter eval --data "$data" ${run#*:} --joint-format coco17 --noise-px 4 --drop 0.05 \
    --json "$out/${name}_coco4.json" --table
done
# The default's track gate (its realism and the motion since the track's previous frame),
# the same persons, at 0, 1.5, 4 and 8 px.
for px in 0 1.5 4 8; do
  echo "== default, track gate, COCO-17, $px px, 5 % dropped"
  $bin/pose-lifter eval --data "$data" --model models/default.onnx --joint-format coco17 \
    --noise-px "$px" --drop 0.05 --track-gate --json "$out/default_track_coco$px.json" --table
done
$bin/python scripts/noise_curve.py --model models/default.onnx models/ensemble.onnx \
  models/supervised.onnx \
  --data "$data" --out docs/images/noise_curve.png --json "$out/noise_curve.json" >/dev/null
echo "== noise curve: docs/images/noise_curve.png, $out/noise_curve.json"
# Occluded bodies (legs / one side hidden) and the calibrated uncertainty, one line per model.
$bin/python scripts/model_summary.py models/default.onnx models/ensemble.onnx \
  models/supervised.onnx --json "$out/summary.json"
echo "== default, H36M-17 exact, legs hidden"
$bin/pose-lifter eval --data "$data" --model models/default.onnx --occlude legs --no-gating \
  --json "$out/default_legs_h36m.json" >/dev/null
$bin/python -c "import json, sys; print(json.load(open(sys.argv[1]))['occluded'])" \
  "$out/default_legs_h36m.json"
for occlude in legs right; do
  echo "== default, COCO-17, 4 px, 5 % dropped, $occlude hidden"
  $bin/pose-lifter eval --data "$data" --model models/default.onnx --joint-format coco17 \
    --noise-px 4 --drop 0.05 --occlude "$occlude" --no-gating --json "$out/default_$occlude.json" \
    >/dev/null
  $bin/python -c "import json, sys; print(json.load(open(sys.argv[1]))['occluded'])" \
    "$out/default_$occlude.json"
done
