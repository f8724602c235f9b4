from abc import ABCMeta, abstractmethod
from typing import List, Optional

import torch
from mmengine.model import BaseModule

from .preprocessing import InputPreprocessing, input_preprocessing_of


def _drop_teacher_state(module, state_dict, prefix, local_metadata):
    """State-dict hook that removes a teacher's tensors from checkpoints.

    A module-level function, not a bound method, so ``deepcopy`` of the model
    (e.g. by EMA hooks) stays safe.
    """
    if module.save_teacher:
        return state_dict
    for key in [k for k in state_dict if k.startswith(prefix)]:
        del state_dict[key]
    return state_dict


class BaseTeacher(BaseModule, metaclass=ABCMeta):
    """A frozen teacher in BeamCLIP's ``target_generator`` slot.

    **Freezing.** A teacher is never trained, initialised or saved: no
    parameter requires grad (subclasses call :meth:`freeze` at the end of
    ``__init__``), it stays in eval mode through ``model.train()``,
    ``init_weights()`` does nothing (``_is_init`` is True, so a model-level
    ``init_weights()`` leaves it alone), ``init_cfg`` is refused, and its
    tensors are left out of ``state_dict()`` (hence out of checkpoints)
    unless ``save_teacher=True``.

    **Interface** (what :class:`BeamCLIP`, :class:`CSMHead`,
    :class:`PromptBankHook` and the tools rely on):

    - ``teacher_id`` (str): identity of the function the teacher computes;
      prompt banks and teacher-target caches are keyed by it.
    - ``embed_dim`` (int): D, the size of the joint embedding space.
    - ``encode_image(inputs)``: ``inputs`` (N, 3, H, W) are *student
      inputs* (see below); returns (N, D) fp32 L2-normalised embeddings.
    - ``encode_text(texts, batch_size=None)``: ``texts`` a list of T
      prompts; returns (T, D) fp32 L2-normalised embeddings.
    - ``forward(inputs, data_samples=None)``: the targets of a training
      batch, (N, D) fp32 L2-normalised; ``data_samples`` lets a teacher look
      targets up (e.g. cached ones) instead of computing them.

    **Input contract.** Teachers receive the crop the student sees, as the
    data preprocessor produced it. :meth:`follow_preprocessor` (called by
    :class:`BeamCLIP` and the cache builder) records how that was done,
    as an :class:`InputPreprocessing` (mean, std, channel order), and the
    teacher inverts it to get 0-255 RGB pixels before applying its own
    normalisation. What cannot be inverted is refused there.

    Args:
        save_teacher (bool): Keep the teacher's tensors in ``state_dict()``.
            Defaults to False.
        init_cfg (dict, optional): Must stay None.
    """

    teacher_id: str
    embed_dim: int

    def __init__(self,
                 save_teacher: bool = False,
                 init_cfg: Optional[dict] = None):
        if init_cfg is not None:
            raise ValueError(
                f'{type(self).__name__} is a frozen teacher: its weights are '
                f'loaded, never initialised; init_cfg={init_cfg} would '
                'overwrite them.')
        super().__init__(init_cfg=None)
        self.save_teacher = save_teacher
        self.input_preprocessing = InputPreprocessing()
        self._is_init = True
        self._register_state_dict_hook(_drop_teacher_state)

    # -------------------------------------------------------------- freezing
    def freeze(self):
        """Stop gradients and switch to eval; call once all modules exist."""
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):
        """Stay in eval mode whatever the caller asks for."""
        return super().train(False)

    def init_weights(self):
        """Do nothing: a teacher's weights are loaded, not initialised."""

    # ----------------------------------------------------------------- input
    def set_input_preprocessing(self, preprocessing: InputPreprocessing):
        """Tell the teacher how its inputs were made from 0-255 pixels.

        Args:
            preprocessing (InputPreprocessing): Mean, std and channel order
                of the student inputs.
        """
        self.input_preprocessing = preprocessing

    def set_input_normalization(self, mean, std):
        """Shortcut for RGB student inputs normalised with ``mean``/``std``.
        """
        self.set_input_preprocessing(InputPreprocessing(mean, std, 'rgb'))

    def follow_preprocessor(self, preprocessor):
        """Take the input contract from a data preprocessor.

        Args:
            preprocessor (nn.Module): The model's data preprocessor.

        Raises:
            TypeError | ValueError: See :func:`input_preprocessing_of`.
        """
        self.set_input_preprocessing(input_preprocessing_of(preprocessor))

    # ------------------------------------------------------------- interface
    @abstractmethod
    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) student inputs -> (N, D) fp32 unit embeddings."""

    @abstractmethod
    def encode_text(self,
                    texts: List[str],
                    batch_size: Optional[int] = None) -> torch.Tensor:
        """T prompts -> (T, D) fp32 unit embeddings."""

    @torch.no_grad()
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> torch.Tensor:
        """The ``target_generator`` call: targets of a training batch.

        Args:
            inputs (Tensor): Student inputs, shape (N, 3, H, W).
            data_samples (list, optional): The batch's data samples.

        Returns:
            Tensor: fp32 L2-normalised embeddings, shape (N, D).
        """
        return self.encode_image(inputs)
