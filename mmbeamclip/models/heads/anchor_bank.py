from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmbeamclip.utils.ranges import check_range

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


class AnchorBank(BaseModule):
    """The teacher's text anchors, the base of every head that uses them.

    Holds the anchor bank (K L2-normalised text embeddings of the teacher,
    filled by :class:`PromptBankHook`), the vocabulary class of each anchor
    and the hash of the prompts that produced it, as buffers
    (``prompt_bank``, ``anchor_labels``, ``bank_hash``), so they travel with
    checkpoints and ``tools/test.py`` needs no teacher text pass when they
    match. Heads inherit it (rather than hold it as a child module) so
    these state-dict keys stay ``head.prompt_bank`` etc., as in checkpoints
    written before the split.

    Zero-shot prediction scores the evaluated dataset's classes. By default
    they are the bank's classes; :meth:`set_eval_classes` restricts the
    prediction to the anchors of the vocabulary classes the dataset's
    classes map to, and :meth:`set_eval_bank` scores with a separate bank
    built for the dataset. Neither is saved: the hook sets it before every
    validation and test.

    Args:
        predict_temperature (float): Temperature of the zero-shot softmax in
            :meth:`predict`. Defaults to 0.01 (CLIP's logit scale 100).
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 predict_temperature: float = 0.01,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        # <= 0 inverts the ranking or makes the scores NaN.
        self.predict_temperature = check_range(
            'predict_temperature',
            predict_temperature,
            0,
            low_open=True,
            owner=type(self).__name__)
        self.register_buffer('prompt_bank', torch.zeros(0, 0))
        self.register_buffer('anchor_labels', torch.zeros(0,
                                                          dtype=torch.long))
        self.register_buffer('bank_hash',
                             torch.zeros(HASH_BYTES, dtype=torch.uint8))
        self.register_buffer('eval_bank', None, persistent=False)
        self.register_buffer('eval_labels', None, persistent=False)
        self.eval_num_classes = 0

    # ------------------------------------------------------------------ bank
    @property
    def has_bank(self) -> bool:
        return self.prompt_bank.numel() > 0

    @property
    def num_classes(self) -> int:
        """int: Number of vocabulary classes of the bank."""
        return int(self.anchor_labels.max()) + 1 if self.has_bank else 0

    @property
    def bank_key(self) -> str:
        """str: Hex hash of what the bank was built from ('' if none)."""
        if not self.has_bank:
            return ''
        return bytes(self.bank_hash.cpu().tolist()).hex()

    def set_prompt_bank(self, bank: torch.Tensor, anchor_labels: torch.Tensor,
                        key: str):
        """Install a prompt bank (and forget any evaluation view).

        Args:
            bank (Tensor): L2-normalised anchors, shape (K, D).
            anchor_labels (Tensor): Class index of each anchor, shape (K,).
            key (str): Hex sha256 of what the bank was built from.
        """
        _check_bank_shapes(bank, anchor_labels)
        digest = bytes.fromhex(key)
        if len(digest) != HASH_BYTES:
            raise ValueError(f'key must be a {HASH_BYTES}-byte hex digest')
        device = self.bank_hash.device
        self.prompt_bank = bank.detach().float().to(device)
        self.anchor_labels = anchor_labels.detach().long().to(device)
        self.bank_hash.copy_(torch.tensor(list(digest), dtype=torch.uint8))
        self.clear_eval()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The bank's size is only known once it is built, so take the
        # checkpoint's shapes instead of failing on a size mismatch.
        for name in ('prompt_bank', 'anchor_labels'):
            key = prefix + name
            if key in state_dict:
                setattr(self, name,
                        torch.empty_like(state_dict[key],
                                         device=self.bank_hash.device))
        self.clear_eval()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------ evaluation
    def set_eval_classes(self, class_map: Sequence[int]):
        """Score the dataset's classes through their vocabulary classes.

        Args:
            class_map (Sequence[int]): For each of the C dataset classes,
                its vocabulary class (an ``anchor_labels`` value). The
                zero-shot softmax runs over the anchors of these classes
                only, as CLIP scores a dataset against its own classes.
        """
        self._check_bank()
        class_map = torch.as_tensor(list(class_map), dtype=torch.long)
        if class_map.numel() == 0 or class_map.min() < 0 or \
                class_map.max() >= self.num_classes:
            raise ValueError(
                f'class_map must hold vocabulary classes in [0, '
                f'{self.num_classes}), got {class_map.tolist()[:10]}')
        if len(set(class_map.tolist())) != len(class_map):
            raise ValueError('several dataset classes map to the same '
                             f'vocabulary class: {class_map.tolist()}')
        to_eval = torch.full((self.num_classes, ), -1, dtype=torch.long)
        to_eval[class_map] = torch.arange(len(class_map))
        labels = to_eval.to(self.anchor_labels.device)[self.anchor_labels]
        keep = labels >= 0
        self.eval_bank = self.prompt_bank[keep]
        self.eval_labels = labels[keep]
        self.eval_num_classes = len(class_map)

    def set_eval_bank(self, bank: torch.Tensor, anchor_labels: torch.Tensor):
        """Score with a bank of the dataset's own classes.

        Args:
            bank (Tensor): L2-normalised anchors, shape (K', D).
            anchor_labels (Tensor): Dataset class of each anchor (K',).
        """
        _check_bank_shapes(bank, anchor_labels)
        device = self.bank_hash.device
        self.eval_bank = bank.detach().float().to(device)
        self.eval_labels = anchor_labels.detach().long().to(device)
        self.eval_num_classes = int(anchor_labels.max()) + 1

    def clear_eval(self):
        """Score against the bank's own classes again."""
        self.eval_bank = self.eval_labels = None
        self.eval_num_classes = 0

    # ---------------------------------------------------------------- scores
    def _check_bank(self, embed: Optional[torch.Tensor] = None):
        if not self.has_bank:
            raise RuntimeError(
                f'{type(self).__name__} has an empty prompt bank. Add '
                "dict(type='PromptBankHook', ...) to custom_hooks (or load a "
                'checkpoint that holds a bank) before training or testing.')
        if embed is not None and embed.shape[-1] != self.prompt_bank.shape[-1]:
            raise ValueError(
                f'Embedding size {embed.shape[-1]} does not match the prompt '
                f'bank / teacher embedding size {self.prompt_bank.shape[-1]}. '
                "Set the neck's out_channels to the teacher's embed_dim.")

    def similarities(self,
                     embed: torch.Tensor,
                     bank: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Cosine similarities of image embeddings to every anchor, in fp32.

        Args:
            embed (Tensor): Image embeddings (normalised here), shape (N, D).
            bank (Tensor, optional): Anchors (K, D). Defaults to the bank.

        Returns:
            Tensor: Cosines, shape (N, K).
        """
        self._check_bank(embed)
        bank = self.prompt_bank if bank is None else bank
        # fp32 even under AMP: fp16 cosines quantise the sharp tau=0.01
        # softmax of the teacher.
        with torch.autocast(device_type=embed.device.type, enabled=False):
            embed = F.normalize(embed.float(), dim=-1)
            return embed @ bank.t()

    def predict(self, embed: torch.Tensor) -> torch.Tensor:
        """Zero-shot class probabilities.

        Args:
            embed (Tensor): Image embeddings, shape (N, D).

        Returns:
            Tensor: Probabilities of the evaluated classes (the bank's
            classes unless an evaluation view is set), shape (N, C).
        """
        if self.eval_bank is None:
            bank, labels, num = (self.prompt_bank, self.anchor_labels,
                                 self.num_classes)
        else:
            bank, labels, num = (self.eval_bank, self.eval_labels,
                                 self.eval_num_classes)
        probs = (self.similarities(embed, bank) /
                 self.predict_temperature).softmax(dim=-1)
        return pool_anchor_scores(probs, labels, num)


def _check_bank_shapes(bank: torch.Tensor, anchor_labels: torch.Tensor):
    if bank.ndim != 2 or bank.shape[0] == 0:
        raise ValueError('a prompt bank must be a non-empty (K, D) '
                         f'tensor, got shape {tuple(bank.shape)}')
    if anchor_labels.shape != bank.shape[:1]:
        raise ValueError('anchor_labels must have shape (K,) = '
                         f'{tuple(bank.shape[:1])}, got '
                         f'{tuple(anchor_labels.shape)}')
