"""How the student's inputs were made, so a teacher can undo it.

BeamCLIP's teacher sees the student's crop, already transformed by the data
preprocessor. mmcv loads images as BGR; the preprocessor may flip them to
RGB (``to_rgb`` / ``bgr_to_rgb``) and may normalise them with a mean and std
given in the order of its output channels. A teacher needs 0-255 RGB pixels,
so it inverts exactly those steps: :class:`InputPreprocessing` records them
and :func:`input_preprocessing_of` reads them off a preprocessor.
"""
from dataclasses import dataclass
from typing import Tuple

import torch
from mmengine.model import BaseDataPreprocessor

# ImageNet statistics on 0-255 RGB pixels, the default student normalisation
# of mmpretrain's configs.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
CHANNEL_ORDERS = ('rgb', 'bgr')
# mmcv's image loaders (LoadImageFromFile, imfrombytes) decode to BGR.
LOADED_ORDER = 'bgr'
# open_clip's preprocess_cfg interpolations and the torch resize mode each
# means at inference ('random' is a training augmentation: bicubic at
# inference, as open_clip's own transform does).
INTERPOLATIONS = dict(
    bicubic='bicubic', bilinear='bilinear', random='bicubic',
    nearest='nearest')


def resize_mode_of(interpolation, owner: str) -> str:
    """The ``F.interpolate`` mode of an open_clip ``interpolation``.

    Args:
        interpolation (str, optional): From the model's ``preprocess_cfg``;
            None means open_clip's default, bicubic.
        owner (str): What to name in the error.

    Raises:
        ValueError: An interpolation open_clip does not define.
    """
    name = interpolation or 'bicubic'
    if name not in INTERPOLATIONS:
        raise ValueError(
            f'Teacher {owner!r}: preprocess_cfg interpolation={name!r} is '
            f'not one of {sorted(INTERPOLATIONS)}; fix the model\'s '
            'open_clip_config.json.')
    return INTERPOLATIONS[name]


def resize_options(mode: str, downscale: bool) -> dict:
    """``F.interpolate`` options for ``mode`` (antialias when shrinking,
    which only the smooth modes take)."""
    if mode == 'nearest':
        return {}
    return dict(align_corners=False, antialias=downscale)


def _three(values, name: str, owner: str) -> Tuple[float, float, float]:
    values = [float(v) for v in torch.as_tensor(values).flatten().tolist()]
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise ValueError(
            f'{owner}: {name}={values} has {len(values)} channels; the '
            'teacher takes 3-channel images.')
    return tuple(values)


@dataclass(frozen=True)
class InputPreprocessing:
    """The transform from 0-255 pixels to the student's inputs.

    ``student_input = (pixels_in_channel_order - mean) / std``, where the
    pixels are in ``channel_order`` and ``mean``/``std`` are given per input
    channel (in that same order).

    Args:
        mean (Sequence[float]): Per-channel mean of the student inputs.
            Defaults to ImageNet's.
        std (Sequence[float]): Per-channel std; must be non-zero.
            Defaults to ImageNet's.
        channel_order (str): ``'rgb'`` or ``'bgr'``, the channel order of the
            student inputs. Defaults to ``'rgb'``.
    """
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    channel_order: str = 'rgb'

    def __post_init__(self):
        owner = 'InputPreprocessing'
        object.__setattr__(self, 'mean', _three(self.mean, 'mean', owner))
        object.__setattr__(self, 'std', _three(self.std, 'std', owner))
        if self.channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'{owner}: channel_order must be one of '
                             f'{CHANNEL_ORDERS}, got {self.channel_order!r}')
        if any(s == 0 for s in self.std):
            raise ValueError(f'{owner}: std={self.std} has a zero; the '
                             'normalisation cannot be undone.')

    def to_rgb_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """Undo the preprocessing (reference implementation).

        Args:
            inputs (Tensor): Student inputs, shape (N, 3, H, W).

        Returns:
            Tensor: 0-255 RGB pixels, fp32, shape (N, 3, H, W).
        """
        mean = torch.tensor(self.mean, device=inputs.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=inputs.device).view(1, 3, 1, 1)
        pixels = inputs.float() * std + mean
        return pixels.flip(1) if self.channel_order == 'bgr' else pixels


def input_preprocessing_of(preprocessor) -> InputPreprocessing:
    """Read the :class:`InputPreprocessing` of a data preprocessor.

    Understands mmengine's ``ImgDataPreprocessor`` and mmpretrain's
    ``SelfSupDataPreprocessor``, ``TwoNormDataPreprocessor`` (the teacher
    gets the first view) and ``ClsDataPreprocessor`` (``_enable_normalize``,
    ``mean``, ``std`` and ``_channel_conversion`` or ``to_rgb``), and the
    plain ``BaseDataPreprocessor`` (no normalisation, loaded BGR order).

    Args:
        preprocessor (nn.Module): The model's data preprocessor.

    Returns:
        InputPreprocessing: What the preprocessor does to loaded pixels.

    Raises:
        TypeError: A preprocessor whose transform cannot be read (it may do
            anything to the pixels, so the teacher refuses to guess).
        ValueError: A transform that cannot be undone (zero std, not three
            channels).
    """
    owner = type(preprocessor).__name__
    normalize = getattr(preprocessor, '_enable_normalize', None)
    flip = getattr(preprocessor, '_channel_conversion',
                   getattr(preprocessor, 'to_rgb', None))
    if normalize is None or flip is None:
        if type(preprocessor) is BaseDataPreprocessor:
            return InputPreprocessing((0., ) * 3, (1., ) * 3, LOADED_ORDER)
        raise TypeError(
            f'The teacher cannot tell how {owner} transforms the images (no '
            '_enable_normalize / mean / std / to_rgb), so it cannot undo it '
            'to get RGB pixels. Use SelfSupDataPreprocessor or '
            'ClsDataPreprocessor, or call the teacher\'s '
            'set_input_preprocessing() yourself.')
    order = LOADED_ORDER
    if flip:
        order = 'rgb' if LOADED_ORDER == 'bgr' else 'bgr'
    if not normalize:
        return InputPreprocessing((0., ) * 3, (1., ) * 3, order)
    try:
        return InputPreprocessing(
            _three(preprocessor.mean, 'mean', owner),
            _three(preprocessor.std, 'std', owner), order)
    except ValueError as e:
        raise ValueError(f'{owner}: {e}') from e
