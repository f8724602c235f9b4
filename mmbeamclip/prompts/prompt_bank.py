"""Prompt banks: text anchors of the teacher, built like open_clip's zero-shot
classifier but returned as (K, D) anchors plus the class of each anchor."""
import hashlib
import json
import os.path as osp
import warnings
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.utils import ProgressBar

from mmbeamclip.utils.fileio import atomic_torch_save, cache_root

AGGREGATES = ('mean', 'none')
# Format of the prompt-bank cache files (and part of every bank key).
PROMPT_BANK_VERSION = 1


def format_prompts(classnames: Sequence[str],
                   templates: Sequence[str]) -> List[List[str]]:
    """Every template filled with every class name.

    Args:
        classnames (Sequence[str]): C class names.
        templates (Sequence[str]): T format strings with one ``{}``.

    Returns:
        list[list[str]]: C lists of T prompts, in template order.
    """
    return compose_prompts(templates, [[c] for c in classnames])


def compose_prompts(templates: Sequence[str],
                    class_phrases: Sequence[Sequence],
                    max_prompts: Optional[int] = None) -> List[List[str]]:
    """Every template filled with every phrase of each class (CPA).

    A phrase is what goes into a template's ``{}``: the class name, or the
    name with a context (``'crane, a type of bird'``), or a pair ``(slot,
    sentence)`` whose sentence follows the filled template
    (``('crane', 'It is a type of bird.')``). The order is
    template-major, ``[t0(p0), t0(p1), ..., t1(p0), ...]``, so a bound keeps
    every context of a class with the first templates rather than dropping
    contexts. With one phrase per class, the class name, this is
    :func:`format_prompts`.

    Args:
        templates (Sequence[str]): T format strings with one ``{}``.
        class_phrases (Sequence[Sequence[str | tuple[str, str]]]): C lists
            of phrases.
        max_prompts (int, optional): Keep the first this many prompts of a
            class. Defaults to all T x P.

    Returns:
        list[list[str]]: C lists of min(T x P_c, max_prompts) prompts.
    """
    if max_prompts is not None and max_prompts < 1:
        raise ValueError(f'max_prompts must be >= 1, got {max_prompts}')
    return [[_fill(t, p) for t in templates for p in phrases][:max_prompts]
            for phrases in class_phrases]


def _fill(template: str, phrase) -> str:
    if isinstance(phrase, str):
        return template.format(phrase)
    slot, sentence = phrase
    text = template.format(slot).rstrip()
    # Every CLIP template ends a sentence; a user template may not.
    if not text.endswith(('.', '!', '?')):
        text += '.'
    return f'{text} {sentence}'


def prompt_bank_key(teacher_id: str, class_prompts: Sequence[Sequence[str]],
                    aggregate: str, **settings) -> str:
    """Hash of everything a bank depends on.

    Args:
        teacher_id (str): Identity of the teacher weights.
        class_prompts (Sequence[Sequence[str]]): Prompts of each class.
        aggregate (str): ``'mean'`` or ``'none'``.
        **settings: Further settings that change the bank (e.g. a context
            source); must be JSON-serialisable.

    Returns:
        str: Hex sha256 digest.
    """
    payload = dict(
        version=PROMPT_BANK_VERSION,
        teacher=teacher_id,
        prompts=[list(p) for p in class_prompts],
        aggregate=aggregate,
        settings=settings)
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode('utf-8')).hexdigest()


def build_prompt_bank(encode_text: Callable[[List[str]], torch.Tensor],
                      class_prompts: Sequence[Sequence[str]],
                      aggregate: str = 'mean',
                      batch_size: int = 256,
                      progress: bool = True
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Encode class prompts into anchors.

    Args:
        encode_text (Callable): Maps a list of prompts to embeddings (N, D).
        class_prompts (Sequence[Sequence[str]]): Non-empty prompt lists, one
            per class.
        aggregate (str): ``'mean'`` averages the normalised prompt embeddings
            of a class and renormalises (the CLIP prompt ensemble, K = C);
            ``'none'`` keeps one anchor per prompt (K = total prompts).
            Defaults to ``'mean'``.
        batch_size (int): Prompts per ``encode_text`` call. Defaults to 256.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        tuple[Tensor, Tensor]: L2-normalised anchors (K, D) and the class
        index of each anchor (K,).
    """
    if aggregate not in AGGREGATES:
        raise ValueError(
            f'aggregate must be one of {AGGREGATES}, got {aggregate!r}')
    check_batch_size(batch_size)
    if len(class_prompts) == 0:
        raise ValueError('cannot build a prompt bank for an empty class list')
    empty = [i for i, p in enumerate(class_prompts) if len(p) == 0]
    if empty:
        raise ValueError(f'classes {empty} have no prompts')
    flat = [p for prompts in class_prompts for p in prompts]
    labels = torch.cat([
        torch.full((len(p), ), i, dtype=torch.long)
        for i, p in enumerate(class_prompts)
    ])
    bar = ProgressBar(len(flat)) if progress else None
    chunks = []
    for i in range(0, len(flat), batch_size):
        batch = flat[i:i + batch_size]
        chunks.append(F.normalize(encode_text(batch).float().cpu(), dim=-1))
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.file.write('\n')
    embeds = torch.cat(chunks)
    if aggregate == 'none':
        return embeds, labels
    sums = embeds.new_zeros(len(class_prompts), embeds.shape[1])
    sums.index_add_(0, labels, embeds)
    return F.normalize(sums, dim=-1), torch.arange(len(class_prompts))


def check_batch_size(batch_size):
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError('batch_size (prompts per text-tower forward) must be '
                         f'a positive int, got {batch_size!r}')


def duplicate_anchor_groups(bank: torch.Tensor,
                            anchor_labels: torch.Tensor,
                            atol: float = 1e-5,
                            chunk: int = 1024) -> List[List[int]]:
    """Classes whose anchors the teacher cannot tell apart.

    Two classes with the same prompts, or prompts that differ only past the
    text tower's context length (which CLIP truncates without a word), get
    identical anchors: CSM then spreads the teacher's mass over both and
    zero-shot picks one at random. Compares each class's mean anchor.

    Args:
        bank (Tensor): Anchors (K, D), L2-normalised.
        anchor_labels (Tensor): Class of each anchor (K,).
        atol (float): Cosine tolerance below 1. Defaults to 1e-5.
        chunk (int): Rows compared at once (memory bound for large
            vocabularies). Defaults to 1024.

    Returns:
        list[list[int]]: Groups (of two or more class indices) of identical
        classes, each sorted, in order of their first class.
    """
    num_classes = int(anchor_labels.max()) + 1
    sums = bank.new_zeros(num_classes, bank.shape[1]).float()
    sums.index_add_(0, anchor_labels.long(), bank.float())
    protos = F.normalize(sums, dim=-1)
    parent = list(range(num_classes))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for start in range(0, num_classes, chunk):
        cos = protos[start:start + chunk] @ protos.t()
        rows, cols = torch.nonzero(cos > 1 - atol, as_tuple=True)
        for r, c in zip((rows + start).tolist(), cols.tolist()):
            if r < c:
                parent[root(c)] = root(r)
    groups = {}
    for i in range(num_classes):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def default_prompt_bank_dir() -> str:
    """The prompt-bank cache folder: ``$MMBEAMCLIP_CACHE/prompt_banks``, else
    ``~/.cache/mmbeamclip/prompt_banks``."""
    return cache_root('prompt_banks')


def prompt_bank_path(cache_dir: str, key: str) -> str:
    """The file of the bank ``key`` in a prompt-bank cache folder."""
    return osp.join(cache_dir, f'prompt_bank_{key}.pth')


def save_prompt_bank(path: str, bank: torch.Tensor,
                     anchor_labels: torch.Tensor,
                     key: str, meta: Optional[dict] = None):
    """Write a bank atomically (a temp file renamed into place).

    Args:
        path (str): Destination file.
        bank (Tensor): Anchors (K, D).
        anchor_labels (Tensor): Class of each anchor (K,).
        key (str): The bank's :func:`prompt_bank_key`.
        meta (dict, optional): Readable provenance (teacher id, counts).
    """
    payload = dict(
        version=PROMPT_BANK_VERSION,
        key=key,
        bank=bank.cpu(),
        anchor_labels=anchor_labels.cpu(),
        meta=meta or {})
    atomic_torch_save(payload, path)


def load_prompt_bank(path: str,
                     key: str) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """Read a cached bank, trusting it only if it is intact and matches.

    A missing file returns None quietly; an unreadable, inconsistent or
    mismatching one returns None with a warning, so the caller rebuilds.

    Args:
        path (str): Cache file.
        key (str): Expected :func:`prompt_bank_key`.

    Returns:
        tuple[Tensor, Tensor] | None: ``(bank, anchor_labels)`` or None.
    """
    if not osp.isfile(path):
        return None
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
        bank, labels = payload['bank'], payload['anchor_labels']
        problem = None
        if payload.get('version') != PROMPT_BANK_VERSION or \
                payload['key'] != key:
            problem = 'it was built from other prompts or another teacher'
        elif bank.ndim != 2 or bank.shape[0] == 0 or labels.shape != (
                bank.shape[0], ):
            problem = 'its tensors have inconsistent shapes'
        else:
            # A non-finite entry makes its row's norm non-finite, so checking
            # the K norms is enough (checking all K x D entries took 0.6 s
            # for an 80000 x 512 bank).
            norms = bank.norm(dim=-1)
            if not torch.isfinite(norms).all() or not torch.allclose(
                    norms, torch.ones(bank.shape[0]), atol=1e-3):
                problem = 'its anchors are not finite unit vectors'
    except Exception as e:  # unreadable: truncated, not a torch file, ...
        problem = f'it cannot be read ({type(e).__name__}: {e})'
    if problem is not None:
        warnings.warn(f'Ignoring prompt-bank cache {path}: {problem}. '
                      'The bank is rebuilt and the cache rewritten.')
        return None
    return bank, labels


def load_or_build_prompt_bank(teacher,
                              class_prompts: Sequence[Sequence[str]],
                              key: str,
                              cache_dir: Optional[str] = None,
                              aggregate: str = 'mean',
                              batch_size: int = 256,
                              progress: bool = True,
                              logger=None
                              ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The cached bank for ``key``, else a freshly built (and cached) one.

    Args:
        teacher: Anything with ``encode_text(list[str]) -> (N, D)`` and a
            ``teacher_id`` (e.g. :class:`OpenCLIPTeacher`).
        class_prompts (Sequence[Sequence[str]]): Prompts of each class.
        key (str): The bank's :func:`prompt_bank_key`.
        cache_dir (str, optional): Cache folder. Defaults to
            :func:`default_prompt_bank_dir`.
        aggregate (str): See :func:`build_prompt_bank`.
        batch_size (int): See :func:`build_prompt_bank`.
        progress (bool): See :func:`build_prompt_bank`.
        logger (logging.Logger, optional): Where to report.

    Returns:
        tuple[Tensor, Tensor]: Anchors (K, D) and anchor classes (K,).
    """
    log = logger.info if logger is not None else print
    path = prompt_bank_path(cache_dir or default_prompt_bank_dir(), key)
    cached = load_prompt_bank(path, key)
    if cached is not None:
        log(f'Loaded the prompt bank from {path}')
        return cached
    num_prompts = sum(len(p) for p in class_prompts)
    log(f'Building the prompt bank: {len(class_prompts)} classes, '
        f'{num_prompts} prompts, aggregate={aggregate!r}')
    bank, labels = build_prompt_bank(
        teacher.encode_text,
        class_prompts,
        aggregate=aggregate,
        batch_size=batch_size,
        progress=progress)
    try:
        save_prompt_bank(
            path,
            bank,
            labels,
            key,
            meta=dict(
                teacher=teacher.teacher_id,
                num_classes=len(class_prompts),
                num_prompts=num_prompts,
                aggregate=aggregate))
    except OSError as e:
        # A read-only or full cache folder costs the next run a rebuild,
        # nothing more: the bank in hand is complete.
        message = (f'Could not write the prompt-bank cache {path} '
                   f'({type(e).__name__}: {e}); the bank is built in memory '
                   'and training goes on. Set PromptBankHook(cache_dir=...) '
                   'or $MMBEAMCLIP_CACHE to a writable folder to reuse it.')
        warnings.warn(message)
        if logger is not None:
            logger.warning(message)
        return bank, labels
    log(f'Saved the prompt bank to {path}')
    return bank, labels
