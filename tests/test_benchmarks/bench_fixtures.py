"""Fixtures of the benchmark tests: the smoke profile's subsets of a tiny
image folder, and the tiny teacher with its view cache."""

import pytest
from beamclip_bench import profiles, subsets
from beamclip_bench import teacher as teachers

import mmbeamclip  # noqa: F401

SMOKE = profiles.PROFILES['smoke']


@pytest.fixture
def data(tmp_path, image_folder):
    return subsets.prepare_data(image_folder, str(tmp_path / 'work'), SMOKE)


@pytest.fixture
def teacher(tmp_path, tiny_clip_dir, data):
    """The tiny teacher with its view cache built through the package."""
    return teachers.cache_teacher(f'local-dir:{tiny_clip_dir}', data, SMOKE,
                                  str(tmp_path / 'work'),
                                  log=lambda *a: None)
