from mmbeamclip.teacher_cache import find_transforms
from .replay_cached_view import ReplayCachedView

__all__ = ['ReplayCachedView', 'find_transforms']
