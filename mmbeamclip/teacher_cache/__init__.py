"""Teacher-target cache: store the teacher's embeddings of pre-sampled views
once, replay the views and read the targets during training."""
from .builder import build_teacher_cache, build_teacher_cache_from_config
from .errors import CacheMismatchError, CacheMissError
from .fingerprint import dataset_fingerprint
from .layout import TEACHER_CACHE_VERSION, read_manifest
from .store import TeacherTargetCache
from .view_recipe import CachedViewRecipe, bind_pipeline, find_transforms

__all__ = [
    'TEACHER_CACHE_VERSION', 'CacheMismatchError', 'CacheMissError',
    'CachedViewRecipe', 'TeacherTargetCache', 'bind_pipeline',
    'build_teacher_cache',
    'build_teacher_cache_from_config', 'dataset_fingerprint',
    'find_transforms', 'read_manifest'
]
