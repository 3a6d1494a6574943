"""``pose-lifter-train``: fit, evaluate and export.

    pose-lifter-train convert-bvh BVH_DIR --rig cmu --out data/my_poses.npz [--fps 30]
    pose-lifter-train fit --preset default --data data/cmu_mocap_h36m17.npz \
        --out runs/NAME [--config f.yaml] [--set model.width=256 train.epochs=5] [--resume]
    pose-lifter-train evaluate --checkpoint runs/NAME/best.pt --split test [--json out.json]
    pose-lifter-train export --checkpoint runs/NAME/best.pt --out models/x.onnx [--tensorrt]
    pose-lifter-train fit --data-2d my.bag --init-from models/default.onnx --out runs/NAME
    pose-lifter-train check --model models/default.onnx runs/NAME/best.pt --data-2d my.bag

Multi-GPU: ``torchrun --nproc_per_node=N -m pose_lifter_training.cli fit ...``.
Expected failures (missing data, bad config key, corrupt checkpoint) exit with status 2 and a
one-line message, no traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from pose_lifter.core.backends.base import BackendError
from pose_lifter.core.contract import ContractError
from pose_lifter.core.poses import PoseFileError

from .bvh.cli import add_parser as add_convert_bvh_parser
from .bvh.cli import run as convert_bvh
from .checkpoint import CheckpointError
from .config import PRESETS, ConfigError, load_config

EXPECTED = (ConfigError, CheckpointError, PoseFileError, ContractError, FileNotFoundError,
            FileExistsError, FloatingPointError, BackendError)


def _add_topics(parser: argparse.ArgumentParser) -> None:
    """The topic options of a --data-2d bag (needed only when it has several of a type)."""
    parser.add_argument('--keypoints-topic', help='with --data-2d: the Skeleton2DArray topic '
                        '(default: found by type)')
    parser.add_argument('--camera-info-topic', help='with --data-2d: the CameraInfo topic '
                        '(default: found by type)')


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='pose-lifter-train', description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    fit = sub.add_parser('fit', help='train a lifter')
    fit.add_argument('--preset', default='default', choices=PRESETS)
    fit.add_argument('--config', help='YAML merged over the preset (full or partial)')
    fit.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                     help='overrides, e.g. model.width=256 train.epochs=5')
    fit.add_argument('--data', help='pose file (sets data.path)')
    fit.add_argument('--out', required=True, help='run directory')
    fit.add_argument('--resume', action='store_true', help='continue from OUT/last.pt')
    fit.add_argument('--data-2d', metavar='BAG_OR_NPZ',
                     help='unlabelled 2D of your cameras (rosbag2 with Skeleton2DArray + '
                     'CameraInfo, or kp.npz); without --data it is the only training data')
    fit.add_argument('--init-from', metavar='MODEL',
                     help='start from this checkpoint (.pt) or exported model (.onnx); its '
                     'architecture replaces model.*')
    _add_topics(fit)
    ck = sub.add_parser('check', help='2D-only criteria of models on a 2D recording')
    ck.add_argument('--model', nargs='+', required=True, help='checkpoints (.pt) / models (.onnx)')
    ck.add_argument('--data-2d', required=True, metavar='BAG_OR_NPZ')
    ck.add_argument('--split', choices=('heldout', 'all'), default='all',
                    help="'heldout': only the time blocks a fit run holds out")
    _add_topics(ck)
    ck.add_argument('--prior-poses', metavar='POSE_FILE',
                    help='3D poses the models may know (e.g. data/cmu_mocap_h36m17.npz, never '
                    "the target's): adds prior_3d, the lifts' distance to the nearest of them")
    ck.add_argument('--run', help='also rank the checkpoints of this run directory: Spearman '
                    'of each 2D criterion with 3D PA-MPJPE (needs 3D validation in its history)')
    ev = sub.add_parser('evaluate', help='metrics of a checkpoint on val or test')
    ev.add_argument('--checkpoint', required=True)
    ev.add_argument('--split', default='test', choices=('val', 'test'))
    ev.add_argument('--data', help='pose file (default: the one the checkpoint was trained on)')
    ev.add_argument('--json', help='write the full report here')
    ev.add_argument('--device', default='cpu')
    en = sub.add_parser('ensemble', help='several trained models as one exported model (mean '
                        'pose and realism); calibrate its threshold afterwards')
    en.add_argument('--member', nargs='+', required=True,
                    help='checkpoints (.pt) or exported models (.onnx), same contract')
    en.add_argument('--out', required=True, help='.onnx path')
    di = sub.add_parser('distill', help='train one lifter to answer as an ensemble of lifters '
                        "does (no 3D labels); export its best.pt like a fit run's")
    di.add_argument('--init', required=True,
                    help='checkpoint (.pt) or exported model (.onnx, e.g. models/default.onnx) '
                    'the student starts from (its config, data, critic)')
    di.add_argument('--member', nargs='+', required=True,
                    help='the teacher: checkpoints (.pt) or exported models (.onnx)')
    di.add_argument('--out', required=True, help='run directory (best.pt, last.pt, '
                    'history.json)')
    di.add_argument('--data', help="3D pose file (default: the init checkpoint's)")
    di.add_argument('--epochs', type=int, default=20)
    di.add_argument('--lr', type=float, default=3e-4)
    di.add_argument('--batch', type=int, default=512)
    di.add_argument('--seed', type=int, default=0)
    di.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    di.add_argument('--noise-prob', type=float, default=0.5,
                    help="share of the student's inputs with detector noise (the teacher "
                    'sees the exact projection)')
    di.add_argument('--coco-prob', type=float, default=0.5,
                    help="share of the student's inputs as COCO-17 through the adapter")
    di.add_argument('--occlusion', type=float, default=0.2,
                    help="share of the student's inputs with the legs or one side hidden")
    di.add_argument('--student-camera', choices=('own', 'same'), default='own',
                    help="own (default): the student sees each pose through a camera of its "
                    "own envelope and learns the teacher's answer from another view, carried "
                    "into its own; same: the teacher's camera (the previous default's recipe)")
    di.add_argument('--student-height', type=float, nargs=2, metavar=('LO', 'HI'),
                    help="the student's camera heights above the ground, m (default: the "
                    "teacher's envelope); e.g. 3.5 4.5 for cameras on a pole")
    di.add_argument('--student-distance', type=float, nargs=2, metavar=('LO', 'HI'),
                    help="horizontal distances camera -> person, m (default: the teacher's)")
    di.add_argument('--student-focal', type=float, nargs=2, metavar=('LO', 'HI'),
                    help="focal lengths, px (default: the teacher's)")
    di.add_argument('--data-2d', metavar='SOURCE',
                    help='unlabelled 2D of the cameras the student is for (a bag or kp.npz, '
                    'as fit --data-2d; not trained on): its 2D-only criteria are logged per '
                    'epoch')
    _add_topics(di)
    di.add_argument('--select', default='n_mpjpe',
                    help='what picks best.pt: n_mpjpe (validation 3D, default), pa_mpjpe, or '
                    'with --data-2d a 2D-only criterion: prior_3d (lifts of the 2D against '
                    'the training poses), crit_2d, plaus_2d, ...')
    di.add_argument('--teacher-views', type=int, default=1,
                    help="the teacher's answer is the mean over this many views of each pose")
    di.add_argument('--anchor-teacher', action='store_true',
                    help="put the teacher's answer on the rays of its own input before carrying "
                    "it into the student's view (its depths kept, as the runtime places "
                    'every answer)')
    ga = sub.add_parser('gate', help="train a learned realism gate over a model's frozen "
                        'lifter (real vs corrupted detections) and export the gated model')
    ga.add_argument('--model', required=True, help='exported .onnx (with its training config) '
                    'or checkpoint')
    ga.add_argument('--out', required=True, help='.onnx path of the gated model')
    ga.add_argument('--data', help="3D pose file (default: the model's own)")
    ga.add_argument('--epochs', type=int, default=60,
                    help='training epochs (60: the validation AUC still rises at 14-30)')
    ga.add_argument('--seed', type=int, default=0)
    ga.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    ga.add_argument('--features', nargs='+', default=None, metavar='NAME',
                    help='what the gate sees: input residual presence realism pose bones '
                    '(default: input residual presence); without realism the critic is '
                    'neither run nor exported')
    tg = sub.add_parser('track-gate', help="fit the track gate of an exported model: its "
                        "realism combined with each person's motion since the same track's "
                        'previous detection (stored in its contract)')
    tg.add_argument('--model', required=True, help='exported .onnx (rewritten unless --out)')
    tg.add_argument('--out', help='write the model with its track gate here instead')
    tg.add_argument('--data', help="3D pose file (default: the model's own)")
    tg.add_argument('--max-frames', type=int, default=3000,
                    help='frames per fitted condition (frame rate x noise x joint format)')
    tg.add_argument('--percentile', type=float, default=None,
                    help="threshold percentile of the validation pairs (default: the model's "
                    'realism calibration percentile)')
    tg.add_argument('--threshold-noise-px', type=float, default=4.0,
                    help='detector noise of the validation persons the threshold is chosen on '
                    "(set it to your detector's: at more noise than this, more real persons "
                    'are rejected)')
    tg.add_argument('--threshold-joint-format', default='coco17', choices=('coco17', 'h36m17'))
    tg.add_argument('--seed', type=int, default=0)
    ca = sub.add_parser('calibrate', help="recalibrate an exported model's realism threshold "
                        'for detector-like input (rewrites its contract)')
    ca.add_argument('--model', required=True, help='exported .onnx (rewritten unless --out)')
    ca.add_argument('--out', help='write the recalibrated model here instead')
    ca.add_argument('--data', default='data/cmu_mocap_h36m17.npz', help='3D pose file')
    ca.add_argument('--subjects', default=None,
                    help="validation subjects, comma-separated (default: the model's own)")
    ca.add_argument('--joint-format', default='coco17', choices=('h36m17', 'coco17'))
    ca.add_argument('--noise-px', type=float, default=4.0)
    ca.add_argument('--noise-size', type=float, default=0.0)
    ca.add_argument('--drop', type=float, default=0.05)
    ca.add_argument('--low-conf', type=float, default=0.0)
    ca.add_argument('--percentile', type=float, default=5.0)
    ca.add_argument('--data-2d', metavar='SOURCE',
                    help='instead: the persons of your own 2D recording (bag or kp.npz), for a '
                    'model meant for cameras the evaluation views do not cover (e.g. distilled '
                    "for cameras mounted high) or your detector's noise; the uncertainty "
                    "calibration is kept. A bag with track ids also sets the track gate's "
                    'threshold')
    ca.add_argument('--track-gate-percentile', type=float, default=3.0,
                    help="with --data-2d: the track gate's threshold as this percentile of the "
                    'combined realism of the persons with a previous detection of their track '
                    '(default 3, as track-gate chooses it)')
    _add_topics(ca)
    ex = sub.add_parser('export', help='ONNX (and optionally TensorRT) export')
    ex.add_argument('--checkpoint', required=True)
    ex.add_argument('--out', required=True, help='.onnx path; the model card goes beside it')
    ex.add_argument('--opset', type=int, default=17)
    ex.add_argument('--tensorrt', action='store_true', help='also build a TensorRT engine')
    ex.add_argument('--max-persons', type=int, default=64)
    ex.add_argument('--realism-reproj-tau', type=float, default=None,
                    help='realism x exp(-reprojection error / tau); recalibrates the threshold '
                    'on the validation subjects')
    ex.add_argument('--data', help='pose file for recalibration (default: the training one)')
    ex.add_argument('--calibrate-format', default=None, choices=('h36m17', 'coco17'),
                    help='recalibrate the realism threshold on validation persons as this '
                    'detector reports them (with the --calibrate-* noise)')
    ex.add_argument('--calibrate-noise-px', type=float, default=0.0)
    ex.add_argument('--calibrate-noise-size', type=float, default=0.0)
    ex.add_argument('--calibrate-drop', type=float, default=0.0)
    ex.add_argument('--calibrate-low-conf', type=float, default=0.0)
    ex.add_argument('--calibrate-percentile', type=float, default=None,
                    help='threshold = this percentile of the real validation realism (default: '
                    "the run's train.realism_percentile)")
    ex.add_argument('--fp32', action='store_true', help='TensorRT without FP16')
    ex.add_argument('--flip-average', action='store_true',
                    help='the graph answers the mean of the pose and the mirrored-back pose '
                    'of the mirrored input (test-time flip; one batch of 2N persons)')
    op = sub.add_parser('optimize', help="rewrite an exported model's graph in the current "
                        "exporter's form: the same answers, less CPU time (models exported "
                        'before December 2026 run Mish through a slow Softplus and keep the '
                        "stems' BatchNormalization apart)")
    op.add_argument('--model', required=True, help='exported .onnx (rewritten unless --out)')
    op.add_argument('--out', help='write the rewritten model here instead')
    add_convert_bvh_parser(sub)
    return p


def _fit(args: argparse.Namespace) -> int:
    overrides = list(args.set)
    if args.data:
        overrides.append(f'data.path={args.data}')
    if args.data_2d:
        overrides.append(f'data.unlabelled={args.data_2d}')
        if not args.data:
            overrides.append('data.path=')   # 2D only
    for key, value in (('data.unlabelled_keypoints_topic', args.keypoints_topic),
                       ('data.unlabelled_camera_info_topic', args.camera_info_topic),
                       ('train.init_from', args.init_from)):
        if value:
            overrides.append(f'{key}={value}')
    cfg = load_config(args.preset, args.config, overrides)
    if cfg.train.init_from and not args.resume:
        from .adapt import adopt_architecture, read_init
        changed = adopt_architecture(cfg, read_init(cfg.train.init_from))
        if changed:
            print(f'architecture of {cfg.train.init_from}: {" ".join(changed)}')
    if not args.resume and cfg.data.path:
        from .sources import detect_format
        detect_format(cfg.data.path)   # fail fast with a clear message
    from .train import fit
    summary = fit(cfg, args.out, resume=args.resume)
    if summary:
        print(json.dumps(summary, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_checkpoint, format_table
    report = evaluate_checkpoint(args.checkpoint, args.split, args.data, args.device)
    print(f'{args.split} subjects {report["subjects"]}, epoch {report["epoch"]}, '
          f'{report["model"]["overall"]["count"]} poses (mm)')
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def _check(args: argparse.Namespace) -> int:
    from .adapt import lifting_model
    from .selection import PosePrior, criterion_2d, rank_report
    from .sources2d import load_2d
    src = load_2d(args.data_2d, args.keypoints_topic, args.camera_info_topic)
    print(src.summary())
    rows = src.heldout if args.split == 'heldout' else src.all_rows()
    prior = None
    if args.prior_poses:
        from pose_lifter.core.poses import load_pose_file
        prior = PosePrior(load_pose_file(args.prior_poses).joints)
    print(f'{"model":<40}{"crit_2d":>10}{"reproj_2d":>11}{"cons_2d":>10}{"cons_3d":>10}'
          f'{"realism":>9}{"prior_3d":>10}  ({len(rows)} rows, {args.split}; lower is better '
          'but realism)')
    for path in args.model:
        m = criterion_2d(lifting_model(path), rows.inputs, rows.visible, prior=prior)
        print(f'{str(path)[-40:]:<40}{m["crit_2d"]:>10.5f}{m["reproj_2d"]:>11.5f}'
              f'{m["cons_2d"]:>10.5f}{m["cons_3d"]:>10.5f}{m["realism_2d"]:>9.4f}'
              f'{m.get("prior_3d", math.nan):>10.5f}')
    if args.run:
        history = json.loads((Path(args.run) / 'history.json').read_text())
        print(json.dumps(rank_report(history), indent=2))
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from .ensemble import export_ensemble
    contract = export_ensemble(args.member, args.out)
    print(f'wrote {args.out}: {len(args.member)} members (content hash '
          f'{contract.content_hash[:12]}); now run: pose-lifter-train calibrate --model '
          f'{args.out}')
    return 0


def _student_envelope(args: argparse.Namespace):
    """The student's camera envelope from the options (None: the teacher's camera)."""
    from .distill import Envelope, student_init, teacher_envelope
    given = {'height': args.student_height, 'distance': args.student_distance,
             'focal': args.student_focal}
    if args.student_camera == 'same':
        if any(v is not None for v in given.values()):
            raise ConfigError('--student-height/--student-distance/--student-focal need '
                              '--student-camera own')
        return None
    for name, value in given.items():
        if value is not None and not 0.0 < value[0] <= value[1]:
            raise ConfigError(f'--student-{name}: LO HI with 0 < LO <= HI')
    base = teacher_envelope(args.member) or Envelope.of(student_init(args.init)[1].data)
    return Envelope(**{k: tuple(v) if v is not None else getattr(base, k)
                       for k, v in given.items()})


def _distill(args: argparse.Namespace) -> int:
    from .distill import distill
    for name in ('noise_prob', 'coco_prob', 'occlusion'):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise ConfigError(f'--{name.replace("_", "-")} must be in [0, 1]')
    if args.epochs < 1:
        raise ConfigError('--epochs must be >= 1')
    if args.teacher_views < 1:
        raise ConfigError('--teacher-views must be >= 1')
    best = distill(args.init, args.member, args.out, epochs=args.epochs, lr=args.lr,
                   batch=args.batch, seed=args.seed, data_path=args.data,
                   threads=args.threads, noise_prob=args.noise_prob, coco_prob=args.coco_prob,
                   occlusion=args.occlusion, student_envelope=_student_envelope(args),
                   teacher_views=args.teacher_views, data_2d=args.data_2d,
                   select=args.select,
                   data_2d_topics=(args.keypoints_topic, args.camera_info_topic),
                   anchor_teacher=args.anchor_teacher)
    chosen = '' if 'target_prior_3d' not in best else \
        f', prior_3d on the 2D {best["target_prior_3d"]:.5f}'
    print(f'{args.out}/best.pt: epoch {best["epoch"]} (by {args.select}), validation N-MPJPE '
          f'{best["n_mpjpe"]:.1f} mm, PA-MPJPE {best["pa_mpjpe"]:.1f} mm{chosen}; now run: '
          f'pose-lifter-train export --checkpoint {args.out}/best.pt --out MODEL.onnx')
    return 0


def _gate(args: argparse.Namespace) -> int:
    from .gate import DEFAULT_FEATURES, feature_width, fit_gate
    if args.epochs < 1:
        raise ConfigError('--epochs must be >= 1')
    features = tuple(args.features or DEFAULT_FEATURES)
    try:
        feature_width(features)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    result = fit_gate(args.model, args.out, args.data, epochs=args.epochs, seed=args.seed,
                      threads=args.threads, features=features)
    print(f'wrote {args.out}: validation ROC-AUC {result["best_val_auc"]:.3f} against the '
          'training corruptions; now run: pose-lifter-train calibrate --model ' + args.out)
    return 0


def _track_gate(args: argparse.Namespace) -> int:
    from .track_gate import fit_track_gate, main_summary
    if args.max_frames < 10:
        raise ConfigError('--max-frames must be >= 10')
    if args.threshold_noise_px < 0:
        raise ConfigError('--threshold-noise-px must be >= 0')
    summary = fit_track_gate(args.model, args.out, args.data, seed=args.seed,
                             percentile=args.percentile, max_frames=args.max_frames,
                             threshold_on=(10.0, args.threshold_noise_px,
                                           args.threshold_joint_format))
    print(main_summary(summary))
    print(f'wrote {args.out or args.model}: track gate threshold {summary["threshold"]:.3f}; '
          'score it: pose-lifter eval --track-gate --model ' + str(args.out or args.model))
    return 0


def _calibrate_track_gate(args: argparse.Namespace, contract) -> None:
    """The track gate's threshold from the same recording (its tracked persons), or one line
    saying why it is kept."""
    from .calibrate import track_gate_on_2d, write_contract
    from .checkpoint import ordinal
    from .sources2d import Source2DError
    path = args.out or args.model
    before = contract.track_gate['threshold']
    try:
        contract.track_gate = track_gate_on_2d(path, args.data_2d, args.track_gate_percentile,
                                               args.keypoints_topic, args.camera_info_topic)
    except Source2DError as exc:
        print(f'{path}: track gate threshold kept at {before:.4f}: {exc}')
        return
    write_contract(path, contract)
    cal = contract.track_gate['threshold_calibration']
    print(f'{path}: track gate threshold {before:.4f} -> {contract.track_gate["threshold"]:.4f} '
          f'({ordinal(args.track_gate_percentile)} percentile of {cal["persons"]} persons with '
          f'a previous detection of their track in {args.data_2d})')


def _calibrate(args: argparse.Namespace) -> int:
    from pose_lifter.core.backends import create_backend
    from pose_lifter.core.detector_noise import DetectorNoise

    from .calibrate import calibrate_model, calibrate_on_2d
    from .checkpoint import ordinal
    if not 0.0 <= args.percentile <= 100.0:
        raise ConfigError('--percentile must be in [0, 100]')
    if not 0.0 <= args.track_gate_percentile <= 100.0:
        raise ConfigError('--track-gate-percentile must be in [0, 100]')
    if args.data_2d:
        before = create_backend(args.model, 'onnxruntime').contract.realism_threshold
        contract = calibrate_on_2d(args.model, args.data_2d, args.percentile, out=args.out,
                                   keypoints_topic=args.keypoints_topic,
                                   camera_info_topic=args.camera_info_topic)
        print(f'{args.out or args.model}: realism threshold {before:.4f} -> '
              f'{contract.realism_threshold:.4f} ({ordinal(args.percentile)} percentile of '
              f'{contract.realism_calibration["persons"]} persons of {args.data_2d})')
        if contract.track_gate:
            _calibrate_track_gate(args, contract)
        return 0
    subjects = args.subjects.split(',') if args.subjects else \
        create_backend(args.model, 'onnxruntime').contract.training.get(
            'data', {}).get('val_subjects')
    if not subjects:
        raise ConfigError(f'{args.model} does not name its validation subjects: pass --subjects')
    try:
        noise = DetectorNoise(args.noise_px, args.noise_size, args.drop, args.low_conf)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    before = create_backend(args.model, 'onnxruntime').contract.realism_threshold
    contract = calibrate_model(args.model, args.data, subjects, noise, args.joint_format,
                               args.percentile, out=args.out)
    print(f'{args.out or args.model}: realism threshold {before:.4f} -> '
          f'{contract.realism_threshold:.4f} ({args.joint_format}, {args.noise_px:g} px, '
          f'{100 * args.drop:g} % dropped; {contract.realism_calibration["persons"]} validation '
          f'persons of subjects {subjects})')
    return 0


def _export(args: argparse.Namespace) -> int:
    from pose_lifter.core.detector_noise import DetectorNoise

    from .export import TensorRTUnavailable, build_tensorrt_engine, export_onnx
    calibration = None if args.calibrate_format is None else DetectorNoise(
        args.calibrate_noise_px, args.calibrate_noise_size, args.calibrate_drop,
        args.calibrate_low_conf)
    contract = export_onnx(args.checkpoint, args.out, args.opset,
                           reproj_tau=args.realism_reproj_tau, data_path=args.data,
                           calibration=calibration,
                           calibration_format=args.calibrate_format or 'h36m17',
                           calibration_percentile=args.calibrate_percentile,
                           flip_average=True if args.flip_average else None)
    print(f'wrote {args.out} (content hash {contract.content_hash[:12]}, realism threshold '
          f'{contract.realism_threshold:.4f})')
    if args.tensorrt:
        try:
            engine = build_tensorrt_engine(args.out, max_persons=args.max_persons,
                                           fp16=not args.fp32)
        except TensorRTUnavailable as exc:
            print(f'error: {exc}', file=sys.stderr)
            return 2
        print(f'wrote {engine}')
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from .export import optimize_model
    count = optimize_model(args.model, args.out)
    target = args.out or args.model
    print(f'{target}: {count} rewrites (Mish in closed form, BatchNormalization folded into '
          'its Gemm)' if count else
          f'{args.model}: already in the current form' +
          (f' (copied to {args.out})' if args.out and args.out != args.model else ''))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == 'convert-bvh':
        return convert_bvh(args)       # reports its own errors (one line per bad file)
    try:
        return {'fit': _fit, 'evaluate': _evaluate, 'export': _export,
                'check': _check, 'calibrate': _calibrate, 'distill': _distill,
                'gate': _gate, 'track-gate': _track_gate, 'optimize': _optimize,
                'ensemble': _ensemble}[args.command](args)
    except EXPECTED as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
