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
