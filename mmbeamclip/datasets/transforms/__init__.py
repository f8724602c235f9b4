from .replay_cached_view import ReplayCachedView, find_transforms

__all__ = ['ReplayCachedView', 'find_transforms']
