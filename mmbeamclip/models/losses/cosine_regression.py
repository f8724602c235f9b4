from typing import Tuple

import torch
import torch.nn.functional as F


def cosine_regression(student_embed: torch.Tensor,
                      teacher_embed: torch.Tensor
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Regress the student's embedding onto the teacher's: ``1 - cos(s, t)``.

    The cosine is taken in fp32 and the teacher side is detached (a target).
    The loss of :class:`FeatureRegressionHead` and the optional embedding
    term of :class:`CSMHead`.

    Args:
        student_embed (Tensor): Student projections, shape (N, D).
        teacher_embed (Tensor): Teacher image embeddings, shape (N, D).

    Returns:
        tuple[Tensor, Tensor]: The loss ``mean(1 - cos)`` (a scalar) and the
        cosine of each sample, shape (N,).
    """
    cos = F.cosine_similarity(
        student_embed.float(), teacher_embed.detach().float(), dim=-1)
    return (1 - cos).mean(), cos
