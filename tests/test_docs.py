"""The repository's own docs stand alone: links resolve, and the contracts they state match the
code (joint orders, model contract fields, bag score glossary, the shipped example input)."""
from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pose_lifter.bag import glossary
from pose_lifter.core.adapters import JOINT_FORMATS
from pose_lifter.core.contract import ModelContract
from pose_lifter.core.normalization import NormalisationSpec
from pose_lifter.core.skeleton import H36M17

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
PAGES = sorted(DOCS.glob('*.md')) + [ROOT / 'README.md', ROOT / 'models' / 'MODEL_CARD.md',
                                     ROOT / 'training' / 'README.md',
                                     ROOT / 'docker' / 'README.md']


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in re.findall(r'^#+ (.*)$', page.read_text(), re.M)}


@pytest.mark.parametrize('page', PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page):
    text = re.sub(r'```.*?```', '', page.read_text(), flags=re.S)
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'[a-z]+://', target):
            continue
        path, _, anchor = target.partition('#')
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f'{page.name}: broken link {target}'
        if anchor and dest.suffix == '.md':
            assert anchor in anchors(dest), f'{page.name}: no heading for #{anchor} in {dest.name}'


def test_user_docs_cite_no_internal_design_document():
    files = subprocess.run(['git', 'ls-files', 'README.md', 'docs', 'models', 'training/README.md',
                            'docker', 'config', 'launch', 'src'], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    hits = [f for f in files if (ROOT / f).is_file() and (ROOT / f).suffix not in ('.onnx', '.npz')
            and 'DESIGN' in (ROOT / f).read_text(errors='replace')]
    assert not hits


def test_inputs_doc_lists_every_joint_format_in_code_order():
    text = (DOCS / 'inputs.md').read_text()
    flat = ' '.join(text.split())
    for name, joints in JOINT_FORMATS.items():
        order = ', '.join(f'{i} {j}' for i, j in enumerate(joints))
        assert f'**`{name}`**' in text and order in flat, name
    assert ', '.join(str(p) for p in H36M17.parents) in flat


def test_model_contract_doc_names_every_field():
    text = (DOCS / 'model-contract.md').read_text()
    first_cells = [line.split('|')[1] for line in text.splitlines() if line.startswith('| ')]
    for f in dataclasses.fields(ModelContract):
        assert any(f'`{f.name}`' in cell for cell in first_cells), f.name
    for f in dataclasses.fields(NormalisationSpec):
        assert f'| `{f.name}` |' in text, f.name


def test_bags_doc_has_the_whole_score_glossary():
    text = (DOCS / 'bags.md').read_text()
    for line in glossary.lines():
        assert line in text, line


def test_the_shipped_example_input_is_what_its_generator_writes():
    from pose_lifter.cli.example_input import example_input
    shipped = np.load(ROOT / 'models' / 'example_kp.npz')
    made = example_input(ROOT / 'models' / 'demo_poses.npz')
    assert set(shipped.files) == set(made)
    for key, value in made.items():
        np.testing.assert_array_equal(shipped[key], value, err_msg=key)
    assert str(shipped['joint_format']) == 'coco17' and shipped['keypoints'].shape == (96, 17, 2)
    assert (ROOT / 'models' / 'example_kp.npz').stat().st_size < 200_000
