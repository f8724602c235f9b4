"""The prompt recipe: classes + templates + contexts -> prompts and key.

Everything that decides *what* text the teacher encodes into the anchor bank
lives here, free of any runner, so :class:`PromptBankHook`,
``tools/build_prompt_bank.py`` and ``tools/ambiguity_report.py`` produce the
same prompts and the same cache key from the same settings.
"""
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch

from mmbeamclip.prompts.contexts import build_context_sources, class_phrases
from mmbeamclip.prompts.presets import (check_names, resolve_class_ids,
                                        resolve_classnames, resolve_templates,
                                        warn_meaningless_names)
from mmbeamclip.prompts.prompt_bank import (AGGREGATES, compose_prompts,
                                            duplicate_anchor_groups,
                                            prompt_bank_key)
from mmbeamclip.utils.ranges import check_range

DATASET = 'dataset'
ContextsCfg = Union[dict, Sequence[dict]]
# Hook arguments that are about the runner, not the prompts.
RUNNER_KEYS = ('type', 'cache_dir', 'batch_size', 'progress', 'eval_classes')


class PromptRecipe:
    """Which prompts make the anchor bank, and the key of that bank.

    Args:
        classnames (str | Sequence[str]): The anchor vocabulary: a preset
            (``'imagenet'``: CLIP's 1000 curated names; ``'imagenet_wordnet'``:
            the same classes as WordNet spells them, ambiguous names
            included; ``'wordnet_generic'``: several thousand concrete
            WordNet nouns shipped with mmbeamclip), a ``.txt``/``.json``
            file, a list, or ``'dataset'`` for a dataset's ``classes``
            (given later to :meth:`resolve`). WordNet ids become names.
            Defaults to ``'imagenet'``.
        templates (str | Sequence[str]): A preset (``'openai_imagenet'``:
            80, ``'simple_imagenet'``: 7, ``'vanilla'``: 1), a file or a list
            of format strings with one ``{}``. Defaults to
            ``'openai_imagenet'``.
        aggregate (str): ``'mean'`` (one anchor per class) or ``'none'``
            (one anchor per prompt). Defaults to ``'mean'``.
        contexts (dict | list[dict], optional): CPA context source(s), see
            ``mmbeamclip/prompts/contexts.py``. Defaults to None (no CPA).
        include_plain (bool): With ``contexts``, also keep the plain-name
            prompts. Defaults to False.
        max_prompts (int, optional): At most this many prompts per class,
            template-major. Defaults to all.

    Examples:
        >>> recipe = PromptRecipe(['cat', 'dog'], templates='vanilla')
        >>> recipe.class_prompts()
        [['a photo of a cat.'], ['a photo of a dog.']]
    """

    def __init__(self,
                 classnames: Union[str, Sequence[str]] = 'imagenet',
                 templates: Union[str, Sequence[str]] = 'openai_imagenet',
                 aggregate: str = 'mean',
                 contexts: Optional[ContextsCfg] = None,
                 include_plain: bool = False,
                 max_prompts: Optional[int] = None):
        if aggregate not in AGGREGATES:
            raise ValueError(
                f'aggregate must be one of {AGGREGATES}, got {aggregate!r}')
        if max_prompts is not None:
            check_range('max_prompts', max_prompts, 1, integer=True)
        # Resolved now, so a bad class list, template or context source
        # fails when the config is read. ``class_ids`` keeps WordNet ids
        # for the context lookup and the zero-shot class mapping.
        if isinstance(classnames, str) and classnames == DATASET:
            self.class_ids = self.classnames = None
        else:
            self.class_ids = resolve_class_ids(classnames)
            check_names(self.class_ids)
            self.classnames = resolve_classnames(classnames)
        self.templates = resolve_templates(templates)
        self.aggregate = aggregate
        self.contexts = contexts
        self.context_sources = build_context_sources(
            contexts) if contexts is not None else []
        self.include_plain = include_plain
        self.max_prompts = max_prompts

    @classmethod
    def from_hook_cfg(cls, cfg: dict) -> 'PromptRecipe':
        """The recipe of a ``PromptBankHook`` config (runner keys dropped)."""
        args = {k: v for k, v in dict(cfg).items() if k not in RUNNER_KEYS}
        return cls(**args)

    @property
    def from_dataset(self) -> bool:
        """bool: Whether the classes come from a dataset."""
        return self.class_ids is None

    def resolve(self, dataset_classes: Optional[Sequence[str]] = None
                ) -> Tuple[List[str], List[str]]:
        """The vocabulary's class identifiers and display names.

        Args:
            dataset_classes (Sequence[str], optional): A dataset's
                ``metainfo['classes']``; required for ``'dataset'``.

        Returns:
            tuple[list[str], list[str]]: Identifiers (WordNet ids where
            known, else names) and names, in class order.
        """
        if not self.from_dataset:
            return self.class_ids, self.classnames
        if not dataset_classes:
            raise ValueError(
                "classnames='dataset': the dataset has no 'classes' in its "
                'metainfo; pass the class names instead.')
        ids = [str(c) for c in dataset_classes]
        check_names(ids)
        warn_meaningless_names(ids)
        return resolve_class_ids(ids), resolve_classnames(ids)

    def class_prompts(self,
                      classes: Optional[Sequence[str]] = None,
                      names: Optional[Sequence[str]] = None
                      ) -> List[List[str]]:
        """The prompts of each class: templates x (name or CPA phrases).

        Args:
            classes (Sequence[str], optional): Class identifiers (WordNet
                ids or names). Defaults to the recipe's own vocabulary.
            names (Sequence[str], optional): Their display names, as
                :meth:`resolve` gave them (not looked up again). Defaults
                to looking them up.

        Returns:
            list[list[str]]: Prompts per class, in a deterministic order.
        """
        ids, names = self._ids_names(classes, names)
        if self.context_sources:
            phrases = class_phrases(self.context_sources, ids, names,
                                    self.include_plain)
        else:
            phrases = [[n] for n in names]
        return compose_prompts(self.templates, phrases, self.max_prompts)

    def plain_prompts(self,
                      classes: Optional[Sequence[str]] = None
                      ) -> List[List[str]]:
        """The prompts without CPA contexts (templates x class name)."""
        _, names = self._ids_names(classes)
        return compose_prompts(self.templates, [[n] for n in names],
                               self.max_prompts)

    def _ids_names(self, classes, names=None):
        if names is not None:
            if classes is None or len(classes) != len(names):
                raise ValueError('names needs the classes they name, one '
                                 'name per class')
            return [str(c) for c in classes], list(names)
        if classes is None or (not self.from_dataset
                               and list(classes) == self.class_ids):
            return self.resolve(classes)
        ids = [str(c) for c in classes]
        return ids, resolve_classnames(ids)

    def settings(self) -> dict:
        """The settings, beyond the prompts, that the bank key covers.

        Without CPA they stay empty, so pre-CPA caches and checkpoints keep
        their key.
        """
        settings = {}
        if self.contexts is not None:
            settings.update(
                contexts=self.contexts, include_plain=self.include_plain)
        if self.max_prompts is not None:
            settings.update(max_prompts=self.max_prompts)
        return settings

    def prompts_and_key(self,
                        teacher_id: str,
                        classes: Optional[Sequence[str]] = None,
                        names: Optional[Sequence[str]] = None
                        ) -> Tuple[List[List[str]], str]:
        """The prompts of each class and the hash that keys their bank.

        Args:
            teacher_id (str): The teacher's ``teacher_id``.
            classes (Sequence[str], optional): See :meth:`class_prompts`.
            names (Sequence[str], optional): See :meth:`class_prompts`.

        Returns:
            tuple[list[list[str]], str]: Prompts per class and the bank key.
        """
        class_prompts = self.class_prompts(classes, names)
        # The key covers the prompts themselves (so edited contexts files
        # count) and the settings that made them.
        key = prompt_bank_key(teacher_id, class_prompts, self.aggregate,
                              **self.settings())
        return class_prompts, key


def warn_identical_anchors(bank: torch.Tensor,
                           anchor_labels: torch.Tensor,
                           class_ids: Sequence[str],
                           names: Sequence[str],
                           logger=None) -> List[List[int]]:
    """Warn about classes whose anchors are identical (named).

    Duplicate class names and names that differ only past the text tower's
    context length (truncated silently) give identical anchors.

    Args:
        bank (Tensor): Anchors (K, D).
        anchor_labels (Tensor): Class of each anchor (K,).
        class_ids (Sequence[str]): Identifiers of the C classes.
        names (Sequence[str]): Names of the C classes.
        logger (logging.Logger, optional): Also log the warning here.

    Returns:
        list[list[int]]: The groups of identical classes.
    """
    groups = duplicate_anchor_groups(bank, anchor_labels)
    if groups:
        shown = '; '.join(
            ' = '.join(f'{names[i]!r} ({class_ids[i]})' for i in g)
            for g in groups[:10])
        message = (
            f'{len(groups)} groups of classes have identical anchors, so the '
            f'teacher cannot tell them apart: {shown}'
            f'{" ..." if len(groups) > 10 else ""}. Their names (and '
            'contexts) are the same, or differ only past the text tower\'s '
            'context length, where prompts are truncated. Rename them, use '
            "WordNet ids with CPA contexts (contexts=dict(type="
            "'WordNetHypernyms')), or shorten long names.")
        warnings.warn(message)
        if logger is not None:
            logger.warning(message)
    return groups
