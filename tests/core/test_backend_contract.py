"""One contract, enforced once: ``Backend.infer`` checks input and output for every backend, user
errors share one base class, echoed user strings stay short, and the runtime backend registry
does not import the training package."""
import subprocess
import sys

import numpy as np
import pytest
from model_factory import tiny_contract

from pose_lifter.core import backends as registry
from pose_lifter.core.adapters import UnknownJointFormat, num_joints
from pose_lifter.core.backends import BackendError, ModelFileError, create_backend
from pose_lifter.core.backends.base import Backend
from pose_lifter.core.backends.baselines import BaselineBackend
from pose_lifter.core.camera import InvalidIntrinsics, validate_intrinsics
from pose_lifter.core.contract import ContractError, ModelContract
from pose_lifter.core.errors import InputContractError, PoseLifterInputError, clip
from pose_lifter.core.poses import PoseFileError, load_pose_file
from pose_lifter.core.undistort import CameraModel, UnknownDistortionModel


class Counting(Backend):
    """A backend that records its calls and answers whatever ``answer`` says."""

    name = 'counting'

    def __init__(self, answer=None):
        super().__init__(tiny_contract())
        self.calls = 0
        self.answer = answer

    def _infer(self, keypoints, noise):
        self.calls += 1
        assert keypoints.dtype == np.float32 and noise.dtype == np.float32
        assert keypoints.flags.c_contiguous and noise.shape == (len(keypoints), 4)
        if self.answer is not None:
            return self.answer
        return np.zeros((len(keypoints), 16, 3)), np.ones(len(keypoints))


@pytest.fixture(params=['onnxruntime', 'baseline', 'counting'])
def backend(request, tiny_model):
    if request.param == 'onnxruntime':
        return create_backend(tiny_model, 'onnxruntime')
    if request.param == 'baseline':
        return BaselineBackend(tiny_contract(), 'zero_depth')
    return Counting()


@pytest.mark.parametrize('keypoints,noise,match', [
    (np.zeros((2, 30)), None, r'keypoints must have shape \(N, 32\), got \(2, 30\)'),
    (np.zeros((2, 16, 2)), None, r'\(N, 32\)'),
    (np.zeros(32), None, r'\(N, 32\)'),
    (np.full((2, 32), np.nan), None, 'non-finite'),
    (np.full((1, 32), np.inf), None, 'non-finite'),
    (np.zeros((2, 32)), np.zeros((2, 3)), r'noise must have shape \(N, 4\)'),
    (np.zeros((2, 32)), np.zeros((3, 4)), 'noise has 3 rows for 2 persons'),
    (np.zeros((2, 32)), np.full((2, 4), np.nan), 'noise has non-finite'),
    ([['a'] * 32], None, 'float array'),
])
def test_every_backend_rejects_input_outside_the_contract(backend, keypoints, noise, match):
    with pytest.raises(InputContractError, match=match) as err:
        backend.infer(keypoints, noise)
    assert isinstance(err.value, PoseLifterInputError) and isinstance(err.value, ValueError)
    assert getattr(backend, 'calls', 0) == 0


def test_every_backend_answers_the_empty_batch_and_valid_input(backend):
    pose, realism = backend.infer(np.zeros((0, 32)))
    assert pose.shape == (0, 16, 3) and realism.shape == (0,)
    assert getattr(backend, 'calls', 0) == 0
    pose, realism = backend.infer(np.zeros((3, 32), np.float64), np.zeros((3, 4)))
    assert pose.shape == (3, 16, 3) and realism.shape == (3,)
    assert pose.dtype == np.float32 and realism.dtype == np.float32


def test_a_backend_answering_outside_the_contract_is_a_backend_error():
    with pytest.raises(BackendError, match=r'pose3d \(2, 15, 3\)'):
        Counting(answer=(np.zeros((2, 15, 3)), np.ones(2))).infer(np.zeros((2, 32)))
    with pytest.raises(BackendError, match='realism'):
        Counting(answer=(np.zeros((2, 16, 3)), np.ones(3))).infer(np.zeros((2, 32)))
    pose, realism = Counting(answer=(np.zeros((2, 16, 3)), np.ones((2, 1)))).infer(
        np.zeros((2, 32)))
    assert realism.shape == (2,)


def test_user_errors_share_one_base_class(tmp_path):
    def raised(fn):
        with pytest.raises(PoseLifterInputError) as err:
            fn()
        return type(err.value)

    assert raised(lambda: num_joints('mpii16')) is UnknownJointFormat
    assert raised(lambda: validate_intrinsics(np.zeros((3, 3)))) is InvalidIntrinsics
    assert raised(lambda: ModelContract.from_json('{')) is ContractError
    assert raised(lambda: load_pose_file(tmp_path / 'none.npz')) is PoseFileError
    assert raised(lambda: CameraModel.from_arrays(np.eye(3).ravel(), np.ones(5), 'kb9')
                  ) is UnknownDistortionModel
    assert raised(lambda: create_backend(tmp_path / 'none.onnx', 'onnxruntime')
                  ) is ModelFileError
    (tmp_path / 'bad.onnx').write_bytes(b'not a model')
    assert raised(lambda: create_backend(tmp_path / 'bad.onnx', 'onnxruntime')
                  ) is ModelFileError
    from pose_lifter.node.inputs import BadInput
    from pose_lifter.node.params import ConfigError
    assert issubclass(BadInput, PoseLifterInputError) and issubclass(ConfigError,
                                                                     PoseLifterInputError)
    # a backend that cannot run is not the user's input
    assert not issubclass(BackendError, PoseLifterInputError)


def test_echoed_user_strings_are_clipped():
    with pytest.raises(UnknownJointFormat) as err:
        num_joints('x' * 10_000)
    assert len(str(err.value)) < 200 and '10002 characters' in str(err.value)
    assert clip('coco17') == "'coco17'" and clip(99) == '99'
    assert len(clip('y' * 500)) <= 64 + len(' (500 characters)')


def test_cli_catches_user_errors_but_not_bugs(tiny_model, tmp_path, capsys, monkeypatch):
    import argparse

    from pose_lifter.cli.main import main

    np.savez(tmp_path / 'kp.npz', keypoints=np.zeros((1, 17, 2)), K=np.eye(3),
             joint_format='z' * 10_000)
    argv = ['lift', '--model', str(tiny_model), '--input', str(tmp_path / 'kp.npz'),
            '--output', str(tmp_path / 'out.npz')]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert 'joint_format' in err and len(err) < 400 and err.count('\n') == 1

    def bug(args):
        raise ValueError('a programming error')

    original = argparse.ArgumentParser.parse_args

    def parse_args(self, *a, **kw):      # route the sub-command to the buggy function
        ns = original(self, *a, **kw)
        ns.func = bug
        return ns

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', parse_args)
    with pytest.raises(ValueError, match='a programming error'):
        main(argv)


def test_registry_finds_registered_and_missing_backends(monkeypatch, tiny_model):
    monkeypatch.setattr(registry, '_PLUGINS', {})
    monkeypatch.setattr(registry, 'entry_points', lambda **kw: [])
    with pytest.raises(BackendError, match='torch backend is not installed'):
        create_backend('ckpt.pt', 'torch')
    seen = {}

    def factory(model, **options):
        seen.update(model=model, **options)
        return Counting()

    registry.register_backend('torch', factory)
    assert isinstance(create_backend('ckpt.pt', 'torch', threads=2), Counting)
    assert seen == {'model': 'ckpt.pt', 'threads': 2}


def test_runtime_backends_do_not_import_the_training_package(tiny_model):
    code = ('import sys\n'
            'from pose_lifter.core.backends import create_backend\n'
            'from pose_lifter.core.pipeline import Lifter\n'
            f'Lifter(create_backend({str(tiny_model)!r}))\n'
            'assert not any(m.startswith(("pose_lifter_training", "torch")) '
            'for m in sys.modules), sorted(sys.modules)\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_training_package_provides_the_torch_backend_by_entry_point(monkeypatch, tmp_path):
    """The entry point the training package declares resolves and builds a TorchBackend."""
    import tomllib
    from importlib.metadata import EntryPoint
    from pathlib import Path

    pytest.importorskip('torch')
    root = Path(__file__).resolve().parents[2]
    meta = tomllib.loads((root / 'training' / 'pyproject.toml').read_text())
    value = meta['project']['entry-points'][registry.ENTRY_POINT_GROUP]['torch']
    ep = EntryPoint('torch', value, registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, '_PLUGINS', {})
    monkeypatch.setattr(registry, 'entry_points',
                        lambda group, name: [ep] if (group, name) == (ep.group, 'torch') else [])
    with pytest.raises(ModelFileError, match='not found'):
        create_backend(tmp_path / 'missing.pt', 'torch')
    assert registry._PLUGINS['torch'] is ep.load()
