from typing import Any, Tuple

import torch
from mmengine.dist import all_reduce, get_rank
from mmpretrain.models.selfsup.simclr import GatherLayer as _SimCLRGather
from mmpretrain.models.selfsup.simclr import SimCLR


class GatherLayer(_SimCLRGather):
    """mmpretrain's SimCLR all-gather, with the gradient summed over ranks.

    The forward pass is mmpretrain's (``mmengine.dist.all_gather``; a no-op
    without distributed training). mmpretrain's backward keeps only the local
    rank's slice of the incoming gradient. Every rank computes the same
    loss over the gathered batch, so each rank then holds ``1/W`` of the
    full-batch gradient of its own embeddings, and DDP's averaging scales the
    whole contrastive gradient by ``1/W``. For SimCLR alone that is a learning
    rate change; in BeamCLIP it would silently turn ``ssl_weight`` into
    ``ssl_weight / world_size`` against the (correctly averaged) CSM term.
    Summing the incoming gradients over ranks first makes DDP's average equal
    the single-process full-batch gradient.
    """

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        grads = torch.stack(grads)
        # Rank r's loss depends on every rank's slice; sum those gradients.
        all_reduce(grads, op='sum')
        return grads[get_rank()]


def simclr_pos_neg(z0: torch.Tensor,
                   z1: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """SimCLR positive and negative cosines of two views, across all ranks.

    Same layout as :class:`mmpretrain.models.SimCLR` (whose ``_create_buffer``
    is reused), so :class:`mmpretrain.models.ContrastiveHead` turns the result
    into the NT-Xent loss. The views are interleaved per image before the
    gather, so each rank's pairs stay adjacent in the gathered batch.

    Args:
        z0 (Tensor): Projections of the first view, shape (N, D).
        z1 (Tensor): Projections of the second view of the same images,
            shape (N, D).

    Returns:
        tuple[Tensor, Tensor]: Positive cosines, shape (2M, 1), and negative
        cosines, shape (2M, 2M - 2), where M = N x world size.
    """
    if z0.shape != z1.shape:
        raise ValueError('both views need projections of the same shape, got '
                         f'{tuple(z0.shape)} and {tuple(z1.shape)}')
    z = torch.stack([z0, z1], dim=1).flatten(0, 1)  # (2N, D), pairs adjacent
    z = z / (torch.norm(z, p=2, dim=1, keepdim=True) + 1e-10)
    z = torch.cat(GatherLayer.apply(z), dim=0)  # (2M, D)
    num = z.size(0) // 2
    s = torch.matmul(z, z.t())  # (2M, 2M)
    mask, pos_idx, neg_mask = SimCLR._create_buffer(num, s.device)
    # Drop self-similarities: (2M, 2M - 1).
    s = torch.masked_select(s, mask == 1).reshape(s.size(0), -1)
    positive = s[pos_idx].unsqueeze(1)
    negative = torch.masked_select(s, neg_mask == 1).reshape(s.size(0), -1)
    return positive, negative
