"""Parameter table, config/lifter.yaml and validation, without DDS."""
import dataclasses
import math

import pytest
import yaml

pytest.importorskip('rcl_interfaces.msg')

from pose_lifter.node import params  # noqa: E402
from pose_lifter.node.params import (  # noqa: E402
    NAMES,
    RUNTIME,
    SPECS,
    ConfigError,
    Settings,
    check,
    config_path,
    descriptor,
    load_defaults,
)


def test_yaml_and_table_agree():
    defaults = load_defaults()
    assert set(defaults) == set(NAMES)
    assert all(check(n, v) is None for n, v in defaults.items())
    s = Settings.from_values(defaults)
    assert s.gate_mode in ('grey', 'drop', 'off') and s.max_persons >= 1


def test_no_default_values_in_code():
    """Defaults live only in config/lifter.yaml: the table declares none."""
    for f in dataclasses.fields(Settings):
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def test_config_file_is_the_checkout_one():
    assert config_path() == params.share_dir() / 'config' / 'lifter.yaml'
    assert config_path().is_file()


@pytest.mark.parametrize('name, value', [
    ('gate_mode', 'hide'), ('backend', 'cuda'), ('realism_threshold', 1e9),
    ('realism_threshold', math.nan), ('marker_alpha', 1.5), ('marker_bone_width', 0.0),
    ('threads', -1), ('min_valid_joints', 18), ('max_persons', 0), ('sync_slop_s', -0.1),
    ('max_persons', 2.5), ('publish_markers', 1), ('model', 3), ('fx', 0.0),
])
def test_invalid_values_are_rejected_with_a_reason(name, value):
    reason = check(name, value)
    assert reason and name in reason


def test_valid_values_pass_and_ints_become_floats():
    assert check('realism_threshold', 2) is None
    assert params.coerce('realism_threshold', 2) == 2.0
    assert isinstance(params.coerce('realism_threshold', 2), float)
    assert check('gate_mode', 'drop') is None and check('use_sim_time', True) is None


def test_runtime_parameters():
    assert {'gate_mode', 'use_model_threshold', 'realism_threshold', 'marker_alpha',
            'publish_markers'} <= RUNTIME
    assert not {'model', 'backend', 'use_camera_info', 'max_persons'} & RUNTIME


def test_descriptors_carry_description_range_and_choices():
    from rcl_interfaces.msg import ParameterType

    for name in NAMES:
        d = descriptor(name)
        assert d.name == name and len(d.description) > 10
    d = descriptor('marker_alpha')
    assert d.type == ParameterType.PARAMETER_DOUBLE
    assert (d.floating_point_range[0].from_value, d.floating_point_range[0].to_value) == (0, 1)
    d = descriptor('min_valid_joints')
    assert d.integer_range[0].to_value == 17 and d.integer_range[0].step == 1
    assert 'grey' in descriptor('gate_mode').additional_constraints
    assert SPECS['gate_mode'].runtime and 'at once' in descriptor('gate_mode').description


def _write(tmp_path, values):
    path = tmp_path / 'p.yaml'
    path.write_text(yaml.safe_dump({'/**': {'ros__parameters': values}}))
    return path


def test_load_defaults_reports_missing_unknown_and_invalid(tmp_path):
    good = load_defaults()
    broken = dict(good)
    del broken['gate_mode']
    broken['colour'] = 'red'
    with pytest.raises(ConfigError, match=r"missing parameters \['gate_mode'\].*\['colour'\]"):
        load_defaults(_write(tmp_path, broken))
    with pytest.raises(ConfigError, match='marker_alpha'):
        load_defaults(_write(tmp_path, {**good, 'marker_alpha': 3.0}))
    with pytest.raises(ConfigError, match='cannot read'):
        load_defaults(tmp_path / 'absent.yaml')
    # a node-name block instead of /** works too
    path = tmp_path / 'named.yaml'
    path.write_text(yaml.safe_dump({'pose_lifter': {'ros__parameters': good}}))
    assert load_defaults(path) == good
