"""Config: presets, YAML round-trip, overrides and clear errors."""
from __future__ import annotations

import pytest

from pose_lifter_training.config import (
    Config,
    ConfigError,
    load_config,
    load_config_file,
    parse_overrides,
)


def test_default_preset_is_the_dataclass_defaults():
    assert load_config('default') == Config()


def test_thesis_preset_switches_every_fix_off():
    cfg = load_config('thesis')
    assert cfg.loss.real_label_high == 1.2
    assert not cfg.loss.critic_eval_for_generator and not cfg.loss.renormalise_views
    assert cfg.loss.consistency_3d == cfg.loss.consistency_2d == cfg.loss.face_forward == 0
    assert cfg.data.missing_prob == 0 and cfg.loss.kl_floor == 0
    assert (cfg.model.width, cfg.model.latent, cfg.train.batch) == (1024, 51, 2560)
    assert (cfg.train.lr, cfg.loss.adv, cfg.loss.kl_peak) == (2e-4, 1e-3, 1e-3)
    assert (cfg.train.clip_critic, cfg.train.clip_generator, cfg.train.clip_value) == \
        (1.0, 2.0, 1000.0)


def test_supervised_preset():
    cfg = load_config('supervised')
    assert cfg.loss.mode == 'supervised' and cfg.loss.adv == 0


def test_yaml_round_trip(tmp_path):
    cfg = load_config('thesis', overrides=['model.width=256', 'train.lr=1e-3',
                                           "data.val_subjects=['14', '15']"])
    assert cfg.model.width == 256 and cfg.train.lr == 1e-3
    assert cfg.data.val_subjects == ['14', '15']
    cfg.save(tmp_path / 'c.yaml')
    assert load_config_file(tmp_path / 'c.yaml') == cfg


def test_partial_config_file_merges_over_preset(tmp_path):
    (tmp_path / 'p.yaml').write_text('train:\n  epochs: 7\n')
    cfg = load_config('thesis', tmp_path / 'p.yaml')
    assert cfg.train.epochs == 7 and cfg.loss.real_label_high == 1.2


@pytest.mark.parametrize('override, message', [
    ('model.widht=3', 'unknown config key'),
    ('nope.width=3', 'unknown config key'),
    ('model.width=abc', 'expects int'),
    ('loss.mode=magic', 'loss.mode'),
    ('loss.view_axis=sideways', 'loss.view_axis'),
    ('model.width', 'KEY=VALUE'),
])
def test_bad_overrides_raise_config_error(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config('default', overrides=[override])


def test_unknown_preset_and_missing_file():
    with pytest.raises(ConfigError, match='unknown preset'):
        load_config('best')
    with pytest.raises(ConfigError, match='not found'):
        load_config('default', '/nonexistent.yaml')


def test_parse_overrides_nests():
    assert parse_overrides(['a.b=1', 'a.c=x']) == {'a': {'b': 1, 'c': 'x'}}


def test_overlapping_subject_splits_are_refused():
    from pose_lifter_training.config import ConfigError, load_config
    with pytest.raises(ConfigError, match='disjoint'):
        load_config('default', overrides=["data.train_subjects=['01', '07']"])
