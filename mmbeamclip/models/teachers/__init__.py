from .cached_teacher import CachedTeacher
from .full_view_cached_teacher import FullViewCachedTeacher
from .open_clip_teacher import OpenCLIPTeacher, open_clip_teacher_id
from .staging import stage_open_clip

__all__ = [
    'CachedTeacher', 'FullViewCachedTeacher', 'OpenCLIPTeacher',
    'open_clip_teacher_id', 'stage_open_clip'
]
