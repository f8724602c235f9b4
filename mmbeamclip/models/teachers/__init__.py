from .open_clip_teacher import OpenCLIPTeacher
from .staging import stage_open_clip

__all__ = ['OpenCLIPTeacher', 'stage_open_clip']
