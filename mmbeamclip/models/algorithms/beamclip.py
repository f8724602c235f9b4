from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmpretrain.models import BaseSelfSupervisor, ContrastiveHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmbeamclip.utils.ranges import check_range
from ..necks import backbone_output_shape, complete_neck_cfg, last_output
from .simclr import simclr_pos_neg

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

    Optionally the student also learns a self-supervised objective on a
    second view of each image, ``L = L_CSM + ssl_weight * L_SSL``: SimCLR's
    NT-Xent (mmpretrain's :class:`ContrastiveHead`, negatives gathered over
    all ranks) between the shared crop and the extra view, through its own
    projection ``ssl_neck``. The teacher still runs once, on the shared crop;
    the extra view costs one student backbone forward.

    Modes: ``'loss'`` (training), ``'tensor'`` (backbone features) and
    ``'predict'`` (zero-shot class scores of the student through the bank,
    for mmpretrain's ``Accuracy``).

    Args:
        backbone (dict): Student backbone config.
        neck (dict): Projection to the teacher's embedding size, e.g.
            ``NonLinearNeck(512, 2048, 512)``. ``in_channels`` left out (or
            None) is read off the backbone by one small no-grad forward, as
            is ``with_avg_pool`` for backbones that output pooled vectors
            (ConvNeXt, a ViT's class token); a given value is checked.
        head (dict): :class:`CSMHead` config.
        target_generator (dict): Teacher config, e.g.
            :class:`OpenCLIPTeacher`.
        ssl_neck (dict, optional): Projection of the SSL term, e.g. SimCLR's
            ``NonLinearNeck(512, 2048, 128)``; its input settings are
            completed like ``neck``'s. Required with ``ssl_head``.
        ssl_head (dict, optional): :class:`ContrastiveHead` config of the SSL
            term. None (the default) trains CSM only.
        ssl_weight (float): Weight of the SSL term. 0 turns it off like
            ``ssl_head=None``: the SSL modules are not even built, so DDP sees
            no unused parameters. Defaults to 1.0.
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
                 ssl_neck: Optional[Union[dict, torch.nn.Module]] = None,
                 ssl_head: Optional[Union[dict, torch.nn.Module]] = None,
                 ssl_weight: float = 1.0,
                 data_preprocessor: Optional[Union[dict,
                                                   torch.nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        if init_cfg is not None:
            raise ValueError(
                'BeamCLIP does not take a model-level init_cfg: it would '
                're-initialise the frozen teacher. Set init_cfg on the '
                'backbone (e.g. Pretrained with prefix="backbone.").')
        check_range('ssl_weight', ssl_weight, 0, owner='BeamCLIP')
        if not isinstance(backbone, torch.nn.Module):
            backbone = MODELS.build(backbone)
        # Neck configs get the student's width from the backbone itself;
        # an SSL neck that will not be built is left alone.
        with_ssl = ssl_head is not None and ssl_weight != 0
        fill_ssl = with_ssl and isinstance(ssl_neck, dict)
        if isinstance(neck, dict) or fill_ssl:
            shape = backbone_output_shape(backbone)
            if isinstance(neck, dict):
                neck = complete_neck_cfg(neck, shape, 'neck')
            if fill_ssl:
                ssl_neck = complete_neck_cfg(ssl_neck, shape, 'ssl_neck')
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
        # The teacher sees the student's crop: it gets the preprocessor's
        # whole input contract (mean, std, channel order) to recover RGB.
        self.target_generator.follow_preprocessor(self.data_preprocessor)
        self.register_load_state_dict_post_hook(_ignore_missing_teacher_keys)
        self._build_ssl(ssl_neck, ssl_head, ssl_weight)

    def _build_ssl(self, ssl_neck, ssl_head, ssl_weight):
        self.ssl_weight = float(ssl_weight)
        self.ssl_neck = self.ssl_head = None
        if ssl_head is None or self.ssl_weight == 0:
            if ssl_head is not None or ssl_neck is not None:
                # Unused modules would break DDP without
                # find_unused_parameters, so they are not built at all.
                MMLogger.get_current_instance().info(
                    'BeamCLIP: ssl_weight=0 or no ssl_head, the SSL term is '
                    'off and its modules are not built (CSM only).')
            return
        if ssl_neck is None:
            raise ValueError('ssl_head needs an ssl_neck (the SSL projection, '
                             "e.g. dict(type='NonLinearNeck', ...)).")
        self.ssl_neck = MODELS.build(ssl_neck) if isinstance(
            ssl_neck, dict) else ssl_neck
        self.ssl_head = MODELS.build(ssl_head) if isinstance(
            ssl_head, dict) else ssl_head
        if not isinstance(self.ssl_head, ContrastiveHead):
            raise TypeError('ssl_head must be a ContrastiveHead (SimCLR '
                            f'NT-Xent), got {type(self.ssl_head).__name__}')

    @property
    def with_ssl(self) -> bool:
        """bool: Whether the SSL term is trained."""
        return self.ssl_head is not None

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
        return self._project(self.neck, self.backbone(inputs))

    @staticmethod
    def _project(neck: torch.nn.Module, feats) -> torch.Tensor:
        """L2-normalised (N, D) output of ``neck`` on backbone features."""
        # Projection necks take one output: the last of backbones that
        # return several stages.
        z = neck((last_output(feats), ))
        z = z[-1] if isinstance(z, (list, tuple)) else z
        return F.normalize(z.flatten(1), dim=-1)

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """CSM loss on the shared crop, plus the SSL term if configured.

        Args:
            inputs (Tensor | list[Tensor]): Student-normalised images
                (N, 3, H, W), or views whose first entry is the crop the
                teacher also sees. With the SSL term on, exactly two views.
            data_samples (list[DataSample]): Unused by CSM.

        Returns:
            dict[str, Tensor]: ``loss_csm`` and diagnostics; with SSL also
            ``loss_ssl`` (already multiplied by ``ssl_weight``, the term that
            is backpropagated), ``ssl_nce`` (unweighted, logged only) and
            ``ssl_top1`` (how often the positive is the closest sample).
        """
        x = self._first_view(inputs)
        feats = self.backbone(x)
        student = self._project(self.neck, feats)
        with torch.no_grad():
            teacher = self.target_generator(x, data_samples)
        losses = self.head.loss(student, teacher)
        if self.with_ssl:
            losses.update(self.loss_ssl(feats, inputs))
        return losses

    def loss_ssl(self, feats: tuple,
                 inputs: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """SimCLR term between the shared crop and the extra view.

        Args:
            feats (tuple[Tensor]): Backbone features of the shared crop,
                reused rather than recomputed.
            inputs (list[Tensor]): The two views, each (N, 3, H, W).

        Returns:
            dict[str, Tensor]: ``loss_ssl``, ``ssl_nce`` and ``ssl_top1``.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            got = len(inputs) if isinstance(inputs,
                                            (list, tuple)) else 'a tensor'
            raise ValueError(
                'The SSL term needs two views per image (the shared crop and '
                f'one extra view), got {got}. Use a MultiView pipeline, see '
                'docs/ssl.md.')
        # Each view gets its own backbone pass (its own BN statistics), so
        # the shared crop's features, and thus the CSM term, are exactly
        # those of the CSM-only model.
        z0 = self._project(self.ssl_neck, feats)
        z1 = self._project(self.ssl_neck, self.backbone(inputs[1]))
        pos, neg = simclr_pos_neg(z0, z1)
        nce = self.ssl_head.loss(pos, neg)
        with torch.no_grad():
            top1 = (pos > neg.max(dim=1, keepdim=True)[0]).float().mean()
        return dict(
            loss_ssl=self.ssl_weight * nce,
            ssl_nce=nce.detach(),
            ssl_top1=top1)

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
