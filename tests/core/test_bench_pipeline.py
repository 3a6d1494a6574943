"""`pose-lifter bench` times the pipeline as the node runs it (timings are for `make bench`,
never asserted)."""
import argparse
import json

from pose_lifter.cli import bench
from pose_lifter.node.params import load_defaults


def _args(model, data, out, threads=None):
    return argparse.Namespace(model=str(model), data=str(data), backend='onnxruntime',
                              repeats=3, threads=threads, node=False, node_param=None,
                              json=str(out))


def test_pipeline_is_timed_with_the_nodes_threads_unless_told(monkeypatch, tiny_model,
                                                             demo_poses, tmp_path):
    used = []
    real = bench.create_backend

    def recording(model, name, **options):
        used.append(options.get('threads'))
        return real(model, name, **options)

    monkeypatch.setattr(bench, 'create_backend', recording)
    assert bench.run(_args(tiny_model, demo_poses, tmp_path / 'a.json')) == 0
    out = json.loads((tmp_path / 'a.json').read_text())
    assert out['threads'] == used[-1] == load_defaults()['threads']
    assert out['backends']['onnxruntime']['pipeline_1_person']['runs'] == 3
    assert bench.run(_args(tiny_model, demo_poses, tmp_path / 'b.json', threads=0)) == 0
    assert json.loads((tmp_path / 'b.json').read_text())['threads'] == used[-1] == 0


def test_the_track_gate_is_timed_for_a_model_that_has_one(tiny_model, default_model,
                                                          demo_poses, tmp_path):
    """track_gate_{1,10}_person: the node's track gate alone, only for a model with one; its
    frame step keeps each person's history (the second frame on is judged over time)."""
    from pose_lifter.core.backends import create_backend
    from pose_lifter.core.pipeline import Lifter
    keys = {'track_gate_1_person', 'track_gate_10_person'}
    for model, expected in ((tiny_model, set()), (default_model, keys)):
        out = tmp_path / 'b.json'
        assert bench.run(_args(model, demo_poses, out)) == 0
        timed = json.loads(out.read_text())['backends']['onnxruntime']
        assert keys & set(timed) == expected
    lifter = Lifter(create_backend(default_model, 'onnxruntime'))
    px, K = bench.sample_inputs(demo_poses, 3)
    step = bench.gate_frames(lifter, px, K)
    step()
    step()
    assert len(step.history) == 3
