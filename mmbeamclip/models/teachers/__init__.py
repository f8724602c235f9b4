from .base import BaseTeacher
from .cached_teacher import CachedTeacher
from .identity import PRECISIONS, file_sha256, open_clip_teacher_id
from .open_clip_teacher import OpenCLIPTeacher
from .preprocessing import (IMAGENET_MEAN, IMAGENET_STD, InputPreprocessing,
                            input_preprocessing_of)
from .staging import stage_open_clip

__all__ = [
    'BaseTeacher', 'CachedTeacher', 'IMAGENET_MEAN', 'IMAGENET_STD',
    'InputPreprocessing', 'OpenCLIPTeacher', 'PRECISIONS', 'file_sha256',
    'input_preprocessing_of', 'open_clip_teacher_id', 'stage_open_clip'
]
