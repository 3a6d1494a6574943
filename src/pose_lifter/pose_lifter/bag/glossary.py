"""What every number of a ``bag score`` report means, and which direction is better.

``entry(path)`` finds the glossary line of any leaf of score.json's metric sections
(``accuracy``, ``gating``, ``latency``, ``baselines``, ``outputs``, ``matched_persons``); the
report prints ``lines()``. Keys that are data labels (joint, clip, corruption kind, baseline
name) are matched by their position, not their name.
"""
from __future__ import annotations

LOWER, HIGHER, NEUTRAL = 'lower is better', 'higher is better', 'informative'

# Metrics of core.metrics.pose_metrics (accuracy.metrics, accuracy.per_clip.<clip>,
# baselines.<column>): root-aligned, millimetres unless a share.
POSE = {
    'mpjpe': ('MPJPE', 'mean distance between predicted and true joints after moving both '
              'roots (pelvis) onto each other, mm; includes the error of the metric size',
              LOWER),
    'n_mpjpe': ('N-MPJPE', 'MPJPE after the best single scale of the prediction (pose and '
                'shape, not size), mm', LOWER),
    'pa_mpjpe': ('PA-MPJPE', 'MPJPE after the best rotation, translation and scale '
                 '(Procrustes) without reflection, mm', LOWER),
    'pck150': ('PCK@150mm', 'share of joints within 150 mm of the truth (root-aligned)', HIGHER),
    'auc': ('AUC 0-150mm', 'PCK averaged over thresholds from 0 to 150 mm', HIGHER),
    'mirror_rate': ('mirror rate', 'share of poses that fit the truth clearly better when '
                    'mirrored: a depth flip that reflection-allowing metrics hide', LOWER),
    'legacy_thesis': ('legacy thesis metric', 'Procrustes allowing reflection on the 16 '
                      'non-root joints, mean over 17, mm; only for comparison with the '
                      'thesis', LOWER),
    'count': ('persons', 'number of persons the metrics average over', NEUTRAL),
    'frame_id': ('frame', 'camera optical frame of the clip', NEUTRAL),
    'error': ('error', 'why a column could not be computed', NEUTRAL),
}
# Distribution summaries (accuracy.root_error_m, accuracy.root_depth_error_rel, latency.ms).
STATS = {
    'count': ('count', 'number of samples', NEUTRAL),
    'mean': ('mean', 'average', NEUTRAL),
    'p50': ('p50', 'median: half of the samples are below', NEUTRAL),
    'p90': ('p90', '90th percentile', NEUTRAL),
    'p99': ('p99', '99th percentile: the slowest / worst 1 % are above', NEUTRAL),
    'max': ('max', 'largest sample', NEUTRAL),
}
FIXED = {
    ('matched_persons',): ('matched persons', 'output persons with a ground-truth person of '
                           'the same stamp and id (real and corrupted)', HIGHER),
    ('outputs', 'messages'): ('output messages', 'Skeleton3DArray messages recorded from the '
                              'node', NEUTRAL),
    ('outputs', 'persons'): ('output persons', 'persons in those messages', NEUTRAL),
    ('accuracy', 'real_persons'): ('real persons matched', 'uncorrupted persons of the '
                                   'output matched to the ground truth', NEUTRAL),
    ('accuracy', 'lifted'): ('real persons lifted', 'of those, the ones the node lifted '
                             '(not too_few_joints); the accuracy averages over them', HIGHER),
    ('accuracy', 'statuses'): ('statuses', 'node status of the matched real persons: ok, '
                               'implausible (realism below the threshold), too_few_joints',
                               NEUTRAL),
    ('accuracy', 'per_joint_mpjpe'): ('error per joint', 'root-aligned error of one joint, '
                                      'mm', LOWER),
    ('accuracy', 'root_error_m'): ('root position error', 'distance between predicted and '
                                   'true root in the camera frame, m: the metric placement '
                                   'error (its p50 is in the summary)', LOWER),
    ('accuracy', 'root_depth_error_rel'): ('root depth error', '|predicted - true root '
                                           'depth| / true depth', LOWER),
    ('gating', 'real'): ('real persons scored', 'real persons with a realism score', NEUTRAL),
    ('gating', 'corrupted'): ('corrupted persons scored', 'corrupted persons (labelled by '
                              'bag make) with a realism score or an envelope status', NEUTRAL),
    ('gating', 'envelope'): ('envelope statuses', 'real and corrupted persons the node marked '
                             'outside_image or out_of_range (never plausible: counted as '
                             'rejected)', NEUTRAL),
    ('accuracy', 'temporal', 'accel_error_mm'): (
        'acceleration error', 'jitter: |second difference of the prediction - that of the '
        'truth| over three consecutive frames of one track in one camera, root-aligned, mean '
        'over the 16 non-root joints, mm/frame²', LOWER),
    ('accuracy', 'temporal', 'root_accel_error_mm'): (
        'root acceleration error', 'the same for the root position in the camera frame '
        '(placement jitter), mm/frame²', LOWER),
    ('accuracy', 'temporal', 'triplets'): ('frame triplets', 'consecutive-frame triplets the '
                                           'acceleration errors average over', NEUTRAL),
    ('accuracy', 'uncertainty', 'coverage'): (
        'uncertainty coverage', 'share of the true joints (root-aligned, root excluded) within '
        'the radius the node published for them (joint_uncertainty, nominal 90 %); near 0.9 '
        'when calibrated', NEUTRAL),
    ('accuracy', 'uncertainty', 'spearman'): (
        'uncertainty rank correlation', 'Spearman correlation of published radius and actual '
        'error over every joint: does a larger radius mean a larger error', HIGHER),
    ('accuracy', 'uncertainty', 'coverage_inferred'): (
        'uncertainty coverage, inferred joints', 'the same coverage over the joints the node '
        'named in inferred_joints', NEUTRAL),
    ('accuracy', 'uncertainty', 'inferred_joints'): (
        'inferred joints', 'joints of lifted real persons the node said it inferred', NEUTRAL),
    ('accuracy', 'uncertainty', 'joints'): (
        'joints with a radius', 'joints the uncertainty numbers average over', NEUTRAL),
    ('gating', 'threshold'): ('realism threshold', 'the node accepts a person as plausible '
                              'when realism >= threshold', NEUTRAL),
    ('gating', 'threshold_source'): ('threshold source', 'where the threshold was read: node '
                                     'diagnostics, --threshold, the model contract, or the '
                                     'lowest accepted realism', NEUTRAL),
    ('gating', 'auc'): ('gating ROC-AUC', 'probability that a random real person gets a '
                        'higher realism than a random corrupted one; 0.5 = chance', HIGHER),
    ('gating', 'accepted_real'): ('real accepted', 'share of real persons the node marked '
                                  'plausible', HIGHER),
    ('gating', 'rejected_corrupted'): ('corrupted rejected', 'share of corrupted persons the '
                                       'node marked implausible', HIGHER),
    ('gating', 'at_threshold', 'gating_auc'): ('gating ROC-AUC (again)', 'the same ROC-AUC, '
                                               'from core.metrics.gating_metrics', HIGHER),
    ('gating', 'at_threshold', 'real_rejected'): ('real below threshold', 'share of real '
                                                  'persons with realism < threshold', LOWER),
    ('gating', 'at_threshold', 'corrupted_rejected'): ('corrupted below threshold', 'share of '
                                                       'corrupted persons with realism < '
                                                       'threshold', HIGHER),
    ('gating', 'per_kind_auc'): ('ROC-AUC per corruption kind', 'real vs one kind of '
                                 'corruption (core.corruptions)', HIGHER),
    ('latency', 'source'): ('latency source', 'publish_time: output received - input '
                            'published (wall clock, recorded by bag replay); header_stamp: '
                            'received - header stamp', NEUTRAL),
    ('latency', 'inputs'): ('input frames', 'keypoint messages published to the node', NEUTRAL),
    ('latency', 'outputs'): ('answered frames', 'input frames with an output of the same '
                             'stamp', HIGHER),
    ('latency', 'dropped'): ('dropped frames', 'input frames without an output', LOWER),
    ('latency', 'drop_rate'): ('drop rate', 'dropped / input frames', LOWER),
    ('latency', 'ms'): ('latency', 'per answered frame: output received - input published, '
                        'ms', LOWER),
}
# Levels whose keys are data labels, not names: (section, level index) of the label.
LABELLED = {('accuracy', 'per_joint_mpjpe'), ('accuracy', 'statuses'),
            ('gating', 'per_kind_auc')}
# Per-bin tables (accuracy.by_visible_joints.<n>, accuracy.root_error_by_distance.<bin>).
BINNED = {
    'by_visible_joints': {
        'count': ('persons per bin', 'persons in that bin', NEUTRAL),
        'mpjpe': ('MPJPE by visible joints', 'MPJPE of the persons with that many visible '
                  'input joints (finite, confidence > 0), mm', LOWER)},
    'root_error_by_distance': {
        'count': ('persons per bin', 'persons in that bin', NEUTRAL),
        'mean': ('root error by distance, mean', 'mean root position error of the persons '
                 'whose true root depth is in that bin, m', LOWER),
        'p50': ('root error by distance, median', 'median of the same, m', LOWER),
        'rel_p50': ('root error by distance, relative', 'median of root position error / '
                    'true depth in that bin', LOWER)},
}
# accuracy.uncertainty.curve.<k>: one bin of published radius (the report's calibration plot)
CURVE = {
    'radius_mm': ('calibration bin radius', 'mean published 90 % radius of the joints in that '
                  'bin, mm', NEUTRAL),
    'error_p90_mm': ('calibration bin error', '90th percentile of their actual error, mm; '
                     'equal to the radius when calibrated', NEUTRAL),
    'count': ('calibration bin joints', 'joints in that bin', NEUTRAL),
}
COMPARISON = ('comparison', "bag score --compare OUT2: this replay's acceleration errors, "
              'MPJPE, PA-MPJPE, median root error and latency p50/p99 (value), those of the '
              'other replay of the same input (other) and value / other - 1 (change_rel); '
              'with the node parameters of both', NEUTRAL)


def entry(path: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(label, meaning, direction) of the score.json leaf at ``path``, None if unknown."""
    if path in FIXED:
        return FIXED[path]
    if path and path[0] == 'comparison':
        return COMPARISON
    head = tuple(path[:2])
    if len(path) == 4 and head == ('gating', 'envelope'):
        return FIXED[head]
    if len(path) == 5 and path[:3] == ('accuracy', 'uncertainty', 'curve'):
        return CURVE.get(path[4])
    if len(path) == 4 and path[0] == 'accuracy' and path[1] in BINNED:
        return BINNED[path[1]].get(path[3])
    if len(path) == 3 and head in LABELLED:
        return FIXED[head]
    if len(path) == 3 and path[0] == 'baselines':
        return POSE.get(path[2])
    if len(path) == 2 and path[0] == 'baselines':
        return POSE.get(path[1])               # a column-wide 'error'
    if len(path) == 3 and head == ('accuracy', 'metrics'):
        return POSE.get(path[2])
    if len(path) == 4 and head == ('accuracy', 'per_clip'):
        return POSE.get(path[3])
    if len(path) == 3 and head in (('accuracy', 'root_error_m'),
                                   ('accuracy', 'root_depth_error_rel'), ('latency', 'ms')):
        return STATS.get(path[2])
    return None


def lines() -> list[str]:
    """Markdown list items: every glossary entry once."""
    items = [*POSE.values(), *FIXED.values(), *STATS.values(),
             *(e for table in BINNED.values() for e in table.values()), *CURVE.values(),
             COMPARISON]
    seen, out = set(), []
    for label, meaning, direction in items:
        if label not in seen:
            seen.add(label)
            out.append(f'- **{label}**: {meaning} ({direction}).')
    return out
