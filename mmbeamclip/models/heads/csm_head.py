from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

HASH_BYTES = 32  # sha256 digest


def pool_anchor_scores(anchor_probs: torch.Tensor, anchor_labels: torch.Tensor,
                       num_classes: int) -> torch.Tensor:
    """Sum per-anchor probabilities into per-class probabilities.

    With one anchor per class this is the identity (up to class order). With
    several anchors per class (e.g. one per CPA prompt) a class's score is the
    probability mass of all of its anchors.

    Args:
        anchor_probs (Tensor): Softmax over anchors, shape (N, K).
        anchor_labels (Tensor): Class index of each anchor, shape (K,).
        num_classes (int): Number of classes C.

    Returns:
        Tensor: Class probabilities, shape (N, C).
    """
    out = anchor_probs.new_zeros(anchor_probs.shape[0], num_classes)
    index = anchor_labels.view(1, -1).expand_as(anchor_probs)
    return out.scatter_add_(1, index, anchor_probs)


@MODELS.register_module()
class CSMHead(BaseModule):
    """Cross-modal similarity matching head with its prompt bank.

    Owns the anchor bank (K L2-normalised text embeddings of the teacher,
    filled by :class:`PromptBankHook`), turns student and teacher image
    embeddings into cosine similarities to the anchors, and computes the CSM
    loss plus diagnostics. The bank, the class of each anchor and the hash of
    the prompts that produced it are buffers, so they travel with checkpoints
    and ``tools/test.py`` needs no teacher text pass when they match.

    Args:
        loss (dict): Config of the loss. Defaults to ``dict(type='CSMLoss')``.
        predict_temperature (float): Temperature of the zero-shot softmax in
            :meth:`predict`. Defaults to 0.01 (CLIP's logit scale 100).
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 loss: dict = dict(type='CSMLoss'),
                 predict_temperature: float = 0.01,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.loss_module = MODELS.build(loss)
        self.predict_temperature = predict_temperature
        self.register_buffer('prompt_bank', torch.zeros(0, 0))
        self.register_buffer('anchor_labels', torch.zeros(0,
                                                          dtype=torch.long))
        self.register_buffer('bank_hash',
                             torch.zeros(HASH_BYTES, dtype=torch.uint8))

    # ------------------------------------------------------------------ bank
    @property
    def has_bank(self) -> bool:
        return self.prompt_bank.numel() > 0

    @property
    def num_classes(self) -> int:
        return int(self.anchor_labels.max()) + 1 if self.has_bank else 0

    @property
    def bank_key(self) -> str:
        """str: Hex hash of what the bank was built from ('' if none)."""
        if not self.has_bank:
            return ''
        return bytes(self.bank_hash.cpu().tolist()).hex()

    def set_prompt_bank(self, bank: torch.Tensor, anchor_labels: torch.Tensor,
                        key: str):
        """Install a prompt bank.

        Args:
            bank (Tensor): L2-normalised anchors, shape (K, D).
            anchor_labels (Tensor): Class index of each anchor, shape (K,).
            key (str): Hex sha256 of what the bank was built from.
        """
        if bank.ndim != 2 or bank.shape[0] == 0:
            raise ValueError('a prompt bank must be a non-empty (K, D) '
                             f'tensor, got shape {tuple(bank.shape)}')
        if anchor_labels.shape != bank.shape[:1]:
            raise ValueError('anchor_labels must have shape (K,) = '
                             f'{tuple(bank.shape[:1])}, got '
                             f'{tuple(anchor_labels.shape)}')
        device = self.bank_hash.device
        self.prompt_bank = bank.detach().float().to(device)
        self.anchor_labels = anchor_labels.detach().long().to(device)
        digest = bytes.fromhex(key)
        if len(digest) != HASH_BYTES:
            raise ValueError(f'key must be a {HASH_BYTES}-byte hex digest')
        self.bank_hash.copy_(torch.tensor(list(digest), dtype=torch.uint8))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The bank's size is only known once it is built, so take the
        # checkpoint's shapes instead of failing on a size mismatch.
        for name in ('prompt_bank', 'anchor_labels'):
            key = prefix + name
            if key in state_dict:
                setattr(self, name,
                        torch.empty_like(state_dict[key],
                                         device=self.bank_hash.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _check_bank(self, embed: torch.Tensor):
        if not self.has_bank:
            raise RuntimeError(
                'CSMHead has an empty prompt bank. Add '
                "dict(type='PromptBankHook', ...) to custom_hooks (or load a "
                'checkpoint that holds a bank) before training or testing.')
        if embed.shape[-1] != self.prompt_bank.shape[-1]:
            raise ValueError(
                f'Embedding size {embed.shape[-1]} does not match the prompt '
                f'bank / teacher embedding size {self.prompt_bank.shape[-1]}. '
                "Set the neck's out_channels to the teacher's embed_dim.")

    def similarities(self, embed: torch.Tensor) -> torch.Tensor:
        """Cosine similarities of image embeddings to every anchor, in fp32.

        Args:
            embed (Tensor): Image embeddings (normalised here), shape (N, D).

        Returns:
            Tensor: Cosines, shape (N, K).
        """
        self._check_bank(embed)
        # fp32 even under AMP: fp16 cosines quantise the sharp tau=0.01
        # softmax of the teacher.
        with torch.autocast(device_type=embed.device.type, enabled=False):
            embed = F.normalize(embed.float(), dim=-1)
            return embed @ self.prompt_bank.t()

    # ------------------------------------------------------------------- api
    def loss(self, student_embed: torch.Tensor,
             teacher_embed: torch.Tensor) -> Dict[str, torch.Tensor]:
        """CSM loss and diagnostics.

        Args:
            student_embed (Tensor): Student projections, shape (N, D).
            teacher_embed (Tensor): Teacher image embeddings, shape (N, D).

        Returns:
            dict[str, Tensor]: ``loss_csm`` and, for logging only,
            ``csm_teacher_entropy`` (nats) and ``csm_top1_agreement``.
        """
        s = self.similarities(student_embed)
        t = self.similarities(teacher_embed.detach())
        loss = self.loss_module(s, t)
        with torch.no_grad():
            log_p = F.log_softmax(t / self.loss_module.tau_t, dim=-1)
            entropy = -(log_p.exp() * log_p).sum(-1).mean()
            agree = (s.argmax(-1) == t.argmax(-1)).float().mean()
        return dict(
            loss_csm=loss,
            csm_teacher_entropy=entropy,
            csm_top1_agreement=agree)

    def predict(self, embed: torch.Tensor) -> torch.Tensor:
        """Zero-shot class probabilities through the bank.

        Args:
            embed (Tensor): Image embeddings, shape (N, D).

        Returns:
            Tensor: Class probabilities, shape (N, C).
        """
        probs = (self.similarities(embed) /
                 self.predict_temperature).softmax(dim=-1)
        return pool_anchor_scores(probs, self.anchor_labels, self.num_classes)
