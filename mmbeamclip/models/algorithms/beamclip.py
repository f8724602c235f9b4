from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmpretrain.models import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

TEACHER_PREFIX = 'target_generator.'


def _ignore_missing_teacher_keys(module, incompatible_keys):
    """Loading a checkpoint without teacher weights is expected: be quiet."""
    teacher = module.target_generator
    if teacher is None or getattr(teacher, 'save_teacher', False):
        return
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if not k.startswith(TEACHER_PREFIX)]


def _out_channels(neck: torch.nn.Module) -> Optional[int]:
    """Output size of a projection neck, if it can be read off its layers."""
    if hasattr(neck, 'out_channels'):
        return neck.out_channels
    layers = [m for m in neck.modules() if isinstance(m, torch.nn.Linear)]
    return layers[-1].out_features if layers else None


@MODELS.register_module()
class BeamCLIP(BaseSelfSupervisor):
    """Implementation of `Transferring Pre-trained Multimodal Representations
    with Cross-modal Similarity Matching <https://arxiv.org/abs/2301.02903>`_.

    A frozen CLIP teacher (``target_generator``) and the student see the same
    crop. Both image embeddings are compared with a bank of teacher text
    embeddings (the anchors, owned by the head) and the student learns the
    teacher's similarity distribution (CSM). The student is any mmpretrain
    backbone and keeps its ``backbone.*`` keys, so stock linear-eval configs
    load it unchanged; the neck projects it to the teacher's embedding size.

    Modes: ``'loss'`` (training), ``'tensor'`` (backbone features) and
    ``'predict'`` (zero-shot class scores of the student through the bank,
    for mmpretrain's ``Accuracy``).

    Args:
        backbone (dict): Student backbone config.
        neck (dict): Projection to the teacher's embedding size, e.g.
            ``NonLinearNeck(512, 2048, 512)``.
        head (dict): :class:`CSMHead` config.
        target_generator (dict): Teacher config, e.g.
            :class:`OpenCLIPTeacher`.
        data_preprocessor (dict, optional): Student preprocessor; its mean
            and std are handed to the teacher, which renormalises the same
            crop with CLIP statistics. Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Must be None: a model-wide init would
            re-initialise the teacher. Put ``init_cfg`` on the backbone.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 target_generator: dict,
                 data_preprocessor: Optional[Union[dict,
                                                   torch.nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        if init_cfg is not None:
            raise ValueError(
                'BeamCLIP does not take a model-level init_cfg: it would '
                're-initialise the frozen teacher. Set init_cfg on the '
                'backbone (e.g. Pretrained with prefix="backbone.").')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            target_generator=target_generator,
            data_preprocessor=data_preprocessor)
        embed_dim = self.target_generator.embed_dim
        out_channels = _out_channels(self.neck)
        if out_channels is not None and out_channels != embed_dim:
            raise ValueError(
                f'The neck projects to {out_channels} channels but the '
                f'teacher embeds into {embed_dim}: set '
                f'model.neck.out_channels={embed_dim}.')
        preprocessor = self.data_preprocessor
        if getattr(preprocessor, '_enable_normalize', False):
            self.target_generator.set_input_normalization(
                preprocessor.mean.flatten().tolist(),
                preprocessor.std.flatten().tolist())
        self.register_load_state_dict_post_hook(_ignore_missing_teacher_keys)

    @staticmethod
    def _first_view(inputs: Union[torch.Tensor, List[torch.Tensor]]):
        return inputs[0] if isinstance(inputs, (list, tuple)) else inputs

    def extract_feat(self, inputs: Union[torch.Tensor, List[torch.Tensor]]):
        """Backbone features of the student (the shared view)."""
        return self.backbone(self._first_view(inputs))

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """Student embedding in the teacher's space.

        Args:
            inputs (Tensor): Student-normalised images, shape (N, 3, H, W).

        Returns:
            Tensor: L2-normalised projections, shape (N, D).
        """
        z = self.neck(self.backbone(inputs))
        z = z[-1] if isinstance(z, (list, tuple)) else z
        return F.normalize(z.flatten(1), dim=-1)

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """CSM loss on the shared crop.

        Args:
            inputs (Tensor | list[Tensor]): Student-normalised images
                (N, 3, H, W), or views whose first entry is the crop the
                teacher also sees.
            data_samples (list[DataSample]): Unused by CSM.

        Returns:
            dict[str, Tensor]: ``loss_csm`` and diagnostics.
        """
        x = self._first_view(inputs)
        student = self.embed(x)
        with torch.no_grad():
            teacher = self.target_generator(x, data_samples)
        return self.head.loss(student, teacher)

    def predict(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Zero-shot prediction of the student through the prompt bank.

        Only meaningful when the bank's classes are the dataset's classes.

        Args:
            inputs (Tensor | list[Tensor]): Student-normalised images.
            data_samples (list[DataSample], optional): Samples to fill.

        Returns:
            list[DataSample]: Samples with ``pred_score`` (N, C) and
            ``pred_label`` set.
        """
        scores = self.head.predict(self.embed(self._first_view(inputs)))
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.shape[0])]
        for sample, score in zip(data_samples, scores):
            sample.set_pred_score(score)
        return data_samples

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """Adds ``mode='predict'`` to :class:`BaseSelfSupervisor`."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)
