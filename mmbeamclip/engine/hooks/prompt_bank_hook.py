from typing import List, Optional, Sequence, Union

import torch
from mmengine.dist import (broadcast, broadcast_object_list, get_world_size,
                           is_main_process)
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmbeamclip.prompts import (build_context_sources, class_phrases,
                                compose_prompts, default_cache_dir,
                                load_or_build_prompt_bank, prompt_bank_key,
                                resolve_class_ids, resolve_classnames,
                                resolve_templates)

DATASET = 'dataset'


@HOOKS.register_module()
class PromptBankHook(Hook):
    """Fill the CSM head's prompt bank with the teacher's text anchors.

    Before training, validation and testing it makes sure the model holds the
    bank for the configured teacher and prompts. It does nothing when the
    model already holds it (e.g. loaded with a checkpoint), loads it from the
    disk cache when a matching entry exists, and otherwise encodes the
    prompts with the teacher on rank 0 (with a progress bar), writes the
    cache and broadcasts the bank to every rank. A bank from a checkpoint
    that was built from another teacher or other prompts is rebuilt with a
    warning.

    With ``contexts`` it applies CPA (context-based prompt augmentation):
    each class name in the templates is replaced by the name with a context
    from WordNet or a user file (``'a photo of a crane, a type of wading
    bird.'``), so classes that share a name (ImageNet's two "crane"s) get
    different anchors. Classes are looked up by identifier (WordNet id where
    the class list has them), not by name.

    Args:
        classnames (str | Sequence[str]): A preset (``'imagenet'``), a
            ``.txt``/``.json`` file, a list, or ``'dataset'`` for the
            ``classes`` of the evaluated (else training) dataset. ImageNet
            WordNet ids are turned into class names. Defaults to
            ``'imagenet'``.
        templates (str | Sequence[str]): A preset (``'openai_imagenet'``: 80,
            ``'simple_imagenet'``: 7, ``'vanilla'``: 1), a file or a list of
            format strings with one ``{}``. Defaults to ``'openai_imagenet'``.
        aggregate (str): ``'mean'`` (one anchor per class, CLIP's prompt
            ensemble) or ``'none'`` (one anchor per prompt). Defaults to
            ``'mean'``.
        contexts (dict | list[dict], optional): CPA context source(s), e.g.
            ``dict(type='WordNetHypernyms', max_contexts=2)``; see
            ``mmbeamclip/prompts/contexts.py`` for ``WordNetDefinitions``,
            ``WordNetSynonyms`` and ``JSONContexts``. A list uses all, in
            order. A class without any context keeps its plain name, with a
            warning. Defaults to None (no CPA).
        include_plain (bool): With ``contexts``, also keep the plain-name
            prompts of each class. Defaults to False.
        max_prompts (int, optional): At most this many prompts per class,
            taken template-major (every context with the first templates).
            Defaults to all templates x contexts.
        cache_dir (str, optional): Where banks are cached. Defaults to
            ``$MMBEAMCLIP_CACHE/prompt_banks`` or
            ``~/.cache/mmbeamclip/prompt_banks``.
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
                 cache_dir: Optional[str] = None,
                 batch_size: int = 256,
                 progress: bool = True):
        if aggregate not in ('mean', 'none'):
            raise ValueError(
                f"aggregate must be 'mean' or 'none', got {aggregate!r}")
        # Resolve now so a bad class list, template or context source fails
        # at start-up. ``classes`` keeps WordNet ids for the context lookup.
        if classnames == DATASET:
            self.classes = self.classnames = DATASET
        else:
            self.classes = resolve_class_ids(classnames)
            self.classnames = resolve_classnames(self.classes)
        self.templates = resolve_templates(templates)
        self.aggregate = aggregate
        if max_prompts is not None and max_prompts < 1:
            raise ValueError(f'max_prompts must be >= 1, got {max_prompts}')
        self.contexts = contexts
        self.context_sources = build_context_sources(
            contexts) if contexts is not None else []
        self.include_plain = include_plain
        self.max_prompts = max_prompts
        self.cache_dir = cache_dir or default_cache_dir()
        self.batch_size = batch_size
        self.progress = progress

    # ----------------------------------------------------------------- hooks
    def before_train(self, runner):
        self.ensure_bank(runner, 'train')

    def before_val(self, runner):
        self.ensure_bank(runner, 'val')

    def before_test(self, runner):
        self.ensure_bank(runner, 'test')

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
    def _classes(self, runner, stage: str) -> List[str]:
        """Class identifiers (WordNet ids where known, else names)."""
        if self.classes != DATASET:
            return self.classes
        loop = {
            'train': runner.val_loop or runner.train_loop,
            'val': runner.val_loop,
            'test': runner.test_loop,
        }[stage]
        classes = loop.dataloader.dataset.metainfo.get('classes')
        if not classes:
            raise ValueError(
                "PromptBankHook(classnames='dataset'): the dataset has no "
                "'classes' in its metainfo; pass the class names instead.")
        return resolve_class_ids(list(classes))

    def class_prompts(self, classes: List[str]) -> List[List[str]]:
        """The prompts of each class: templates x (name or CPA phrases).

        Args:
            classes (list[str]): Class identifiers: ImageNet WordNet ids or
                class names (e.g. :attr:`classes`).

        Returns:
            list[list[str]]: Prompts per class, in a deterministic order.
        """
        names = resolve_classnames(classes)
        if self.context_sources:
            phrases = class_phrases(self.context_sources, classes, names,
                                    self.include_plain)
        else:
            phrases = [[n] for n in names]
        return compose_prompts(self.templates, phrases, self.max_prompts)

    def prompts_and_key(self, teacher_id: str, classes: List[str]):
        """The prompts of each class and the hash that keys their bank.

        Args:
            teacher_id (str): ``OpenCLIPTeacher.teacher_id``.
            classes (list[str]): Class identifiers (WordNet ids or names).

        Returns:
            tuple[list[list[str]], str]: Prompts per class and the bank key.
        """
        class_prompts = self.class_prompts(classes)
        # The key covers the prompts themselves (so edited contexts files
        # count) and the settings that made them. Without CPA the settings
        # stay empty, so pre-CPA caches and checkpoints keep their key.
        settings = {}
        if self.contexts is not None:
            settings.update(
                contexts=self.contexts, include_plain=self.include_plain)
        if self.max_prompts is not None:
            settings.update(max_prompts=self.max_prompts)
        key = prompt_bank_key(teacher_id, class_prompts, self.aggregate,
                              **settings)
        return class_prompts, key

    def ensure_bank(self, runner, stage: str = 'train'):
        """Make the model's bank match the teacher and prompts (idempotent).

        Args:
            runner (Runner): The runner.
            stage (str): ``'train'``, ``'val'`` or ``'test'``; only used to
                find the dataset for ``classnames='dataset'``.
        """
        model = get_ori_model(runner.model)
        head, teacher = model.head, model.target_generator
        class_prompts, key = self.prompts_and_key(
            teacher.teacher_id, self._classes(runner, stage))
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
        if is_main_process():
            bank, labels = load_or_build_prompt_bank(
                teacher,
                class_prompts,
                key,
                cache_dir=self.cache_dir,
                aggregate=self.aggregate,
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
        head.set_prompt_bank(bank, labels, key)
