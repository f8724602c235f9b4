import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import (broadcast, broadcast_object_list, get_world_size,
                           is_main_process)
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmbeamclip.prompts import (PromptRecipe, check_batch_size, check_names,
                                default_prompt_bank_dir,
                                load_or_build_prompt_bank, map_classes,
                                warn_identical_anchors)

EVAL_CLASSES = ('map', 'dataset')


@HOOKS.register_module()
class PromptBankHook(Hook):
    """Fill the head's anchor bank with the teacher's text anchors.

    What the bank holds is a :class:`PromptRecipe` (the anchor vocabulary,
    templates and CPA contexts); this hook adds the runner's side. Before
    training, validation and testing it makes sure the model holds the bank
    for the configured teacher and prompts. It does nothing when the model
    already holds it (e.g. loaded with a checkpoint), loads it from the disk
    cache when a matching entry exists, and otherwise encodes the prompts
    with the teacher on rank 0 (with a progress bar), writes the cache and
    broadcasts the bank to every rank. A bank from a checkpoint that was
    built from another teacher or other prompts is rebuilt with a warning.

    The anchor vocabulary need not be the evaluated dataset's classes: before
    validation and testing (and, to fail early, before training) each class
    of the evaluated dataset is mapped to its vocabulary class by WordNet id
    or name, and zero-shot scores the dataset's classes through their
    anchors. A class without a match is an error, never a silently wrong
    score; ``eval_classes='dataset'`` scores with a small bank built from
    the dataset's own class names instead.

    Args:
        classnames (str | Sequence[str]): The anchor vocabulary: a preset
            (``'imagenet'``, ``'imagenet_wordnet'``, ``'wordnet_generic'``),
            a ``.txt``/``.json`` file, a list, or ``'dataset'`` for the
            ``classes`` of the evaluated (else training) dataset. See
            :class:`PromptRecipe`. Defaults to ``'imagenet'``.
        templates (str | Sequence[str]): See :class:`PromptRecipe`.
            Defaults to ``'openai_imagenet'``.
        aggregate (str): ``'mean'`` (one anchor per class, CLIP's prompt
            ensemble) or ``'none'`` (one anchor per prompt). Defaults to
            ``'mean'``.
        contexts (dict | list[dict], optional): CPA context source(s), e.g.
            ``dict(type='WordNetHypernyms', max_contexts=2)``; see
            ``mmbeamclip/prompts/contexts.py``. Defaults to None (no CPA).
        include_plain (bool): With ``contexts``, also keep the plain-name
            prompts of each class. Defaults to False.
        max_prompts (int, optional): At most this many prompts per class,
            taken template-major. Defaults to all templates x contexts.
        eval_classes (str): How zero-shot scores the evaluated dataset:
            ``'map'`` (its classes through the bank's anchors) or
            ``'dataset'`` (a separate bank of its class names, with the
            same templates and contexts, cached like the training bank).
            Defaults to ``'map'``.
        cache_dir (str, optional): Where banks are cached. Defaults to
            ``$MMBEAMCLIP_CACHE/prompt_banks`` or
            ``~/.cache/mmbeamclip/prompt_banks``. A folder that cannot be
            written only costs the next run a rebuild (with a warning).
        batch_size (int): Prompts per teacher forward. Defaults to 256.
        progress (bool): Show a progress bar while encoding. Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 classnames: Union[str, Sequence[str]] = 'imagenet',
                 templates: Union[str, Sequence[str]] = 'openai_imagenet',
                 aggregate: str = 'mean',
                 contexts: Optional[Union[dict, Sequence[dict]]] = None,
                 include_plain: bool = False,
                 max_prompts: Optional[int] = None,
                 eval_classes: str = 'map',
                 cache_dir: Optional[str] = None,
                 batch_size: int = 256,
                 progress: bool = True):
        self.recipe = PromptRecipe(
            classnames=classnames,
            templates=templates,
            aggregate=aggregate,
            contexts=contexts,
            include_plain=include_plain,
            max_prompts=max_prompts)
        if eval_classes not in EVAL_CLASSES:
            raise ValueError(f'eval_classes must be one of {EVAL_CLASSES}, '
                             f'got {eval_classes!r}')
        check_batch_size(batch_size)
        self.eval_classes = eval_classes
        self.cache_dir = cache_dir or default_prompt_bank_dir()
        self.batch_size = batch_size
        self.progress = progress
        self._eval_key = None

    # ----------------------------------------------------------------- hooks
    # The vocabulary is resolved once per stage, then flows one way: to the
    # prompts and key (prompts), the bank (teacher) and the head (model).
    def before_train(self, runner):
        vocabulary = self.vocabulary(runner, 'train')
        self.ensure_bank(runner, 'train', vocabulary)
        if runner.val_loop is not None:
            # A dataset that cannot be scored fails now, not an epoch later.
            self.ensure_eval(runner, 'train', vocabulary)

    def before_val(self, runner):
        vocabulary = self.vocabulary(runner, 'val')
        self.ensure_bank(runner, 'val', vocabulary)
        self.ensure_eval(runner, 'val', vocabulary)

    def before_test(self, runner):
        vocabulary = self.vocabulary(runner, 'test')
        self.ensure_bank(runner, 'test', vocabulary)
        self.ensure_eval(runner, 'test', vocabulary)

    def before_save_checkpoint(self, runner, checkpoint: dict):
        model = get_ori_model(runner.model)
        checkpoint.setdefault('meta', {})['mmbeamclip'] = dict(
            teacher=model.target_generator.teacher_id,
            bank_key=model.head.bank_key,
            num_anchors=int(model.head.prompt_bank.shape[0]),
            num_classes=model.head.num_classes,
            world_size=get_world_size(),
            batch_size_per_gpu=getattr(runner.train_dataloader, 'batch_size',
                                       None))

    # ----------------------------------------------------------------- logic
    @staticmethod
    def _dataset_classes(runner, stage: str) -> Optional[List[str]]:
        loop = {
            'train': runner.val_loop or runner.train_loop,
            'val': runner.val_loop,
            'test': runner.test_loop,
        }[stage]
        if loop is None:
            return None
        classes = loop.dataloader.dataset.metainfo.get('classes')
        return list(classes) if classes else None

    def vocabulary(self, runner, stage: str) -> Tuple[List[str], List[str]]:
        """Identifiers and names of the anchor vocabulary for a stage."""
        if not self.recipe.from_dataset:
            return self.recipe.resolve()
        return self.recipe.resolve(self._dataset_classes(runner, stage))

    def _load_or_build(self, runner, teacher, class_prompts, key):
        """The bank on rank 0 (cache or teacher), broadcast to every rank."""
        if is_main_process():
            bank, labels = load_or_build_prompt_bank(
                teacher,
                class_prompts,
                key,
                cache_dir=self.cache_dir,
                aggregate=self.recipe.aggregate,
                batch_size=self.batch_size,
                progress=self.progress,
                logger=runner.logger)
            shape = list(bank.shape)
        else:
            bank = labels = None
            shape = [None, None]
        broadcast_object_list(shape)
        if bank is None:
            bank = torch.empty(shape)
            labels = torch.empty(shape[0], dtype=torch.long)
        broadcast(bank)
        broadcast(labels)
        return bank, labels

    def ensure_bank(self,
                    runner,
                    stage: str = 'train',
                    vocabulary: Optional[Tuple[List[str],
                                               List[str]]] = None):
        """Make the model's bank match the teacher and prompts (idempotent).

        Args:
            runner (Runner): The runner.
            stage (str): ``'train'``, ``'val'`` or ``'test'``; only used to
                find the dataset for ``classnames='dataset'``.
            vocabulary (tuple[list[str], list[str]], optional): The stage's
                :meth:`vocabulary`, if already resolved.
        """
        model = get_ori_model(runner.model)
        head, teacher = model.head, model.target_generator
        ids, names = vocabulary or self.vocabulary(runner, stage)
        class_prompts, key = self.recipe.prompts_and_key(
            teacher.teacher_id, ids, names)
        # Rank 0 decides, so every rank takes the same branch and meets the
        # same collectives.
        status = [head.bank_key == key, head.has_bank]
        broadcast_object_list(status)
        up_to_date, had_bank = status
        if up_to_date:
            return
        if had_bank:
            runner.logger.warning(
                'The prompt bank in the model (e.g. from the checkpoint '
                'being resumed or loaded) was built from another teacher or '
                'other prompts; rebuilding it for the current config.')
        bank, labels = self._load_or_build(runner, teacher, class_prompts,
                                           key)
        head.set_prompt_bank(bank, labels, key)
        if is_main_process():
            warn_identical_anchors(bank, labels, ids, names, runner.logger)

    def ensure_eval(self,
                    runner,
                    stage: str,
                    vocabulary: Optional[Tuple[List[str],
                                               List[str]]] = None):
        """Point zero-shot at the evaluated dataset's classes.

        Args:
            runner (Runner): The runner.
            stage (str): ``'val'`` or ``'test'``; ``'train'`` checks the
                validation dataset before training.
            vocabulary (tuple[list[str], list[str]], optional): The stage's
                :meth:`vocabulary`, if already resolved.

        Raises:
            ValueError: If (with ``eval_classes='map'``) a class has no
                unique vocabulary class.
        """
        head = get_ori_model(runner.model).head
        classes = self._dataset_classes(runner, stage)
        if not classes:
            if stage == 'train':
                return
            # Nothing to compare with: the labels are taken as vocabulary
            # class indices, which is right only for a dataset labelled
            # like the vocabulary, so say so.
            message = (
                f'PromptBankHook: the {stage} dataset has no "classes" in '
                'its metainfo, so zero-shot assumes its labels are the '
                f'indices of the {head.num_classes} anchor-vocabulary '
                'classes. Give the dataset its classes (e.g. '
                'CustomDataset(classes=...)) to have them checked.')
            warnings.warn(message)
            runner.logger.warning(message)
            head.clear_eval()
            return
        if self.eval_classes == 'dataset':
            self._ensure_eval_bank(runner, classes)
            return
        ids, names = vocabulary or self.vocabulary(runner, stage)
        class_map = map_classes(classes, ids, names)
        if class_map == list(range(len(ids))):
            head.clear_eval()  # the bank's own classes, in label order
            return
        head.set_eval_classes(class_map)
        runner.logger.info(
            f"Zero-shot ({'val' if stage == 'train' else stage}): the "
            f'{len(classes)} dataset classes are scored through their '
            f'anchors among the {len(ids)} vocabulary classes (matched by '
            'WordNet id or name).')

    def _ensure_eval_bank(self, runner, classes: List[str]):
        model = get_ori_model(runner.model)
        ids = [str(c) for c in classes]
        check_names(ids)
        prompts, key = self.recipe.prompts_and_key(
            model.target_generator.teacher_id, ids)
        if self._eval_key == key and model.head.eval_bank is not None:
            return
        bank, labels = self._load_or_build(runner, model.target_generator,
                                           prompts, key)
        model.head.set_eval_bank(bank, labels)
        self._eval_key = key
