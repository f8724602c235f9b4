"""Weighted k-NN classification of frozen features (SSL protocol).

The protocol of Wu et al. (2018) used by the self-supervised literature
(InstDisc, MoCo, DINO, SEED): L2-normalised features, the k most similar
training features vote for their class with weight ``exp(sim / T)``.
"""
from typing import Dict, Sequence

import torch
import torch.nn.functional as F


def knn_scores(query: torch.Tensor,
               bank: torch.Tensor,
               bank_labels: torch.Tensor,
               num_classes: int,
               k: int = 20,
               temperature: float = 0.07,
               chunk_size: int = 1024) -> torch.Tensor:
    """Class scores of weighted k-NN voting.

    Args:
        query (Tensor): Features to classify, shape (Q, D).
        bank (Tensor): Training features, shape (N, D).
        bank_labels (Tensor): Training labels in ``[0, num_classes)``,
            shape (N, ).
        num_classes (int): Number of classes C.
        k (int): Neighbours per query; at most N. Defaults to 20.
        temperature (float): T of the ``exp(sim / T)`` weights. Defaults
            to 0.07.
        chunk_size (int): Queries per similarity block, which bounds the
            memory to ``chunk_size x N``. Defaults to 1024.

    Returns:
        Tensor: Scores, shape (Q, C): the summed weights of the neighbours
        of each class.
    """
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(
            f'k must be between 1 and the {bank.shape[0]} training '
            f'features, got {k}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    query = F.normalize(query.float(), dim=1)
    bank = F.normalize(bank.float(), dim=1)
    bank_labels = bank_labels.long()
    scores = []
    for start in range(0, query.shape[0], chunk_size):
        sim = query[start:start + chunk_size] @ bank.t()
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(
            sim.shape[0], num_classes, dtype=weights.dtype)
        votes.scatter_add_(1, bank_labels[top_idx], weights)
        scores.append(votes)
    return torch.cat(scores) if scores else torch.zeros(0, num_classes)


def knn_accuracy(query: torch.Tensor,
                 query_labels: torch.Tensor,
                 bank: torch.Tensor,
                 bank_labels: torch.Tensor,
                 num_classes: int,
                 k: int = 20,
                 temperature: float = 0.07,
                 topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Top-k accuracy (%) of weighted k-NN, see :func:`knn_scores`.

    Args:
        query_labels (Tensor): True labels of the queries, shape (Q, ).
        topk (Sequence[int]): Accuracies to report; those above
            ``num_classes`` are left out. Defaults to (1, 5).

    Returns:
        dict[str, float]: ``{'top1': ..., 'top5': ...}`` in percent.
    """
    scores = knn_scores(query, bank, bank_labels, num_classes, k,
                        temperature)
    # Ties (e.g. equal votes) go to the lower class index, as in argsort.
    ranked = scores.argsort(dim=1, descending=True, stable=True)
    hits = ranked == query_labels.long()[:, None]
    return {
        f'top{n}': float(hits[:, :n].any(1).float().mean() * 100)
        for n in topk if n <= num_classes
    }
