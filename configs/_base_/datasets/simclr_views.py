# SimCLR's view (mmpretrain's imagenet_bs32_simclr.py `view_pipeline`),
# written once: a crop, then flip, strong colour distortion and grayscale,
# then blur at ImageNet size. At 64 px the blur is left out, as SimCLR does
# on CIFAR-10.
# Children take a whole view: `{{_base_.simclr_view_in1k}}`.
simclr_distortion = [
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.8,
                contrast=0.8,
                saturation=0.8,
                hue=0.2)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
]
simclr_view_in1k = [
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
    *simclr_distortion,
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
]
# The image-folder configs' size (_base_/datasets/imagefolder_bs32_*.py).
simclr_view_imagefolder = [
    dict(type='RandomResizedCrop', scale=64, backend='pillow'),
    *simclr_distortion,
]
