"""Teacher-target cache: store the teacher's embeddings of pre-sampled views
once, replay the views and read the targets during training."""
from .builder import build_teacher_cache, build_teacher_cache_from_config
from .store import (CACHE_VERSION, CacheMismatchError, CacheMissError,
                    TeacherTargetCache, dataset_fingerprint, read_manifest)
from .view_recipe import CachedViewRecipe, find_transforms

__all__ = [
    'CACHE_VERSION', 'CacheMismatchError', 'CacheMissError',
    'CachedViewRecipe', 'TeacherTargetCache', 'build_teacher_cache',
    'build_teacher_cache_from_config', 'dataset_fingerprint',
    'find_transforms', 'read_manifest'
]
