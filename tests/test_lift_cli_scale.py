"""``pose-lifter lift`` at scale: chunks, only the keys it needs, output checked up front."""
import sys

import numpy as np
import pytest
from model_factory import walking_poses

from pose_lifter.cli.main import main


class _CreatesFile:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def kp_file(tmp_path):
    cam3d, px, K = walking_poses(5)
    n = len(px)
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, px.shape[:2]).astype(np.float32)
    Ks = np.array(K, np.float64) if np.ndim(K) == 3 else np.repeat(K[None], n, axis=0)
    Ks[::2, 0, 0] *= 1.1                         # per-person intrinsics differ
    path = tmp_path / 'kp.npz'
    np.savez_compressed(path, keypoints=px.astype(np.float32), confidence=conf, K=Ks,
                        joint_format='h36m17')
    return path


def lift(model, inp, out, *extra):
    return main(['lift', '--model', str(model), '--input', str(inp), '--output', str(out),
                 *extra])


def test_chunked_lift_equals_one_call_and_calls_are_bounded(tiny_model, kp_file, tmp_path,
                                                            monkeypatch, capsys):
    from pose_lifter.core.pipeline import Lifter
    assert lift(tiny_model, kp_file, tmp_path / 'all.npz', '--chunk', '100000') == 0
    sizes = []
    original = Lifter.lift

    def recording(self, keypoints, *a, **kw):
        sizes.append(len(keypoints))
        return original(self, keypoints, *a, **kw)

    monkeypatch.setattr(Lifter, 'lift', recording)
    assert lift(tiny_model, kp_file, tmp_path / 'chunks.npz', '--chunk', '3') == 0
    n = len(np.load(kp_file)['keypoints'])
    assert max(sizes) == 3 and sum(sizes) == n and len(sizes) == -(-n // 3)
    whole, chunked = np.load(tmp_path / 'all.npz'), np.load(tmp_path / 'chunks.npz')
    assert set(whole.files) == {'joints3d', 'realism', 'plausible', 'status', 'valid_joints'}
    for key in whole.files:
        assert whole[key].dtype == chunked[key].dtype, key
        np.testing.assert_array_equal(whole[key], chunked[key], err_msg=key)
    assert whole['joints3d'].shape == (n, 17, 3) and whole['status'].dtype.kind == 'U'
    assert (whole['status'] == 'ok').sum() > 0
    out = capsys.readouterr().out
    assert f'-> {tmp_path / "chunks.npz"}' in out and "{'ok': " in out


def test_unused_keys_are_never_read(tiny_model, tmp_path):
    """Other keys are ignored, not loaded: an unused pickled member never runs."""
    _, px, K = walking_poses(2)
    marker = tmp_path / 'pwned'
    junk = np.empty((), dtype=object)
    junk[()] = _CreatesFile(marker)
    np.savez(tmp_path / 'kp.npz', keypoints=px, K=K, junk=junk,
             big=np.zeros((256, 1024), np.float64))
    assert lift(tiny_model, tmp_path / 'kp.npz', tmp_path / 'o.npz') == 0
    assert not marker.exists()
    assert len(np.load(tmp_path / 'o.npz')['joints3d']) == len(px)


@pytest.mark.parametrize('where, message', [
    ('missing_dir', 'output directory does not exist'),
    ('no_suffix', 'must end in .npz'),
    ('a_dir', 'is a directory'),
    ('proc', 'cannot write'),
])
def test_output_is_checked_before_any_work(tmp_path, kp_file, capsys, where, message):
    if where == 'proc' and not sys.platform.startswith('linux'):
        pytest.skip('/proc is Linux only')
    out = {'missing_dir': tmp_path / 'nope' / 'o.npz', 'no_suffix': tmp_path / 'out',
           'a_dir': tmp_path, 'proc': '/proc/pose_lifter_out.npz'}[where]
    if where == 'a_dir':
        out = tmp_path / 'd.npz'
        out.mkdir()
    bad_model = tmp_path / 'm.onnx'
    bad_model.write_text('not a model')        # the model is never opened: output fails first
    rc = lift(bad_model, kp_file, out)
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert 'ONNX' not in err and 'Traceback' not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / 'out.npz').exists()


def test_nothing_is_left_behind_on_failure(tmp_path, kp_file, capsys):
    bad_model = tmp_path / 'm.onnx'
    bad_model.write_text('not a model')
    out_dir = tmp_path / 'results'
    out_dir.mkdir()
    assert lift(bad_model, kp_file, out_dir / 'o.npz') == 2
    assert list(out_dir.iterdir()) == []          # no partial output, no temporary files


@pytest.mark.parametrize('case, message', [
    ('conf_shape', 'confidence must have shape'),
    ('k_shape', 'K must be'),
    ('object_kp', 'must be numbers'),
    ('long_format', 'joint_format must be a short string'),
    ('not_zip', 'not a readable .npz'),
])
def test_bad_members_are_one_line_errors(tiny_model, tmp_path, capsys, case, message):
    _, px, K = walking_poses(1)
    path = tmp_path / 'kp.npz'
    if case == 'conf_shape':
        np.savez(path, keypoints=px, K=K, confidence=np.ones((len(px), 3)))
    elif case == 'k_shape':
        np.savez(path, keypoints=px, K=np.eye(4))
    elif case == 'object_kp':
        np.savez(path, keypoints=np.empty((1, 17, 2), dtype=object), K=K)
    elif case == 'long_format':
        np.savez(path, keypoints=px, K=K, joint_format='x' * 10_000)
    else:
        path.write_bytes(b'garbage')
    rc = lift(tiny_model, path, tmp_path / 'o.npz')
    err = capsys.readouterr().err
    assert rc == 2 and message in err and 'Traceback' not in err, err
    assert len(err.strip().splitlines()) == 1 and len(err) < 500


def test_zero_persons(tiny_model, tmp_path):
    np.savez(tmp_path / 'kp.npz', keypoints=np.zeros((0, 17, 2)), K=np.eye(3))
    assert lift(tiny_model, tmp_path / 'kp.npz', tmp_path / 'o.npz') == 0
    out = np.load(tmp_path / 'o.npz')
    assert out['joints3d'].shape == (0, 17, 3) and out['status'].shape == (0,)
