"""A tiny random open_clip model as a ``local-dir:`` folder: the CPU
default teacher of the throughput benchmark and the test suite's teacher
(loaded through the same path as staged real CLIP weights)."""
import torch

TINY_CLIP_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(
        image_size=32, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(
        context_length=16, vocab_size=49408, width=32, heads=2, layers=1))


def write_tiny_clip(folder: str, seed: int = 0,
                    cfg: dict = TINY_CLIP_CFG) -> str:
    """Write a random-weight open_clip model (``cfg``, seeded) into
    ``folder``, which must not exist yet; returns ``folder``."""
    import open_clip
    from open_clip.model import CLIP

    from mmbeamclip.utils.local_dir import write_local_dir
    torch.manual_seed(seed)
    write_local_dir(
        folder,
        cfg,
        CLIP(**cfg).state_dict(),
        preprocess_cfg=dict(
            mean=list(open_clip.OPENAI_DATASET_MEAN),
            std=list(open_clip.OPENAI_DATASET_STD)))
    return folder
