"""Context sources of CPA (context-based prompt augmentation).

A context source maps a class (its identifier, a WordNet id or a name, and
its display name) to context strings, and turns each context into a
*phrase* that fills the ``{}`` of a template::

    WordNetHypernyms:  'bird'  -> 'crane, a type of bird'
    template 'a photo of a {}.' -> 'a photo of a crane, a type of bird.'

Inline phrases collide with template tails ('a photo of a boxer, a type of
working dog in a video game.'). With ``placement='sentence'`` the context
becomes a sentence of its own after the filled template, which reads as
English with every template::

    'a photo of the boxer in a video game. It is a type of working dog.'

A phrase is then a pair ``(slot, sentence)``; :func:`compose_prompts`
joins the two.

Sources are registered in ``mmbeamclip.registry.CONTEXT_SOURCES`` and built
from the ``contexts`` option of :class:`PromptBankHook`, e.g.
``contexts=dict(type='WordNetHypernyms', max_contexts=2)``.
"""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmbeamclip.prompts.wordnet import (GENERIC_VOCABULARY, IMAGENET_CONTEXTS,
                                        find_synset, load_wordnet,
                                        read_contexts_file, synset_record)
from mmbeamclip.registry import CONTEXT_SOURCES
from mmbeamclip.utils.fileio import read_json
from mmbeamclip.utils.ranges import check_range

PLACEMENTS = ('inline', 'sentence')
# A template slot filler: the slot text alone (inline), or the slot text and
# a sentence that follows the filled template.
Phrase = Union[str, Tuple[str, str]]

# Hypernyms near WordNet's root say nothing about what a class looks like
# ("a type of whole", "a type of artifact").
GENERIC_HYPERNYMS = frozenset({
    'entity', 'physical entity', 'abstraction', 'object', 'whole', 'thing',
    'artifact', 'living thing', 'organism', 'matter', 'substance',
    'causal agent', 'instrumentality', 'unit', 'group', 'part', 'relation',
    'psychological feature', 'attribute', 'measure', 'natural object',
    'physical object', 'structure', 'device', 'container', 'covering',
    'commodity', 'material', 'solid', 'food', 'nutriment', 'vertebrate',
    'chordate', 'animal', 'plant', 'vascular plant', 'invertebrate'
})


class BaseContextSource:
    """Interface: class -> contexts -> phrases for the template slot.

    Args:
        phrase (str, optional): With ``placement='inline'``, how a context
            fills a template's ``{}``, with the fields ``{name}`` (the class
            name) and ``{context}``; with ``'sentence'``, the sentence added
            after the filled template. Defaults to the source's
            ``default_phrase`` or ``default_sentence``.
        max_contexts (int, optional): Keep at most this many contexts per
            class, in the source's order. Defaults to no limit.
        placement (str): ``'inline'`` (the context goes into the template's
            slot) or ``'sentence'`` (the slot keeps the plain name and the
            context follows the template as its own sentence). Defaults to
            ``'inline'``.
    """

    default_phrase = '{name}, {context}'
    default_sentence = '{name}: {context}.'

    def __init__(self,
                 phrase: Optional[str] = None,
                 max_contexts: Optional[int] = None,
                 placement: str = 'inline'):
        if placement not in PLACEMENTS:
            raise ValueError(
                f'placement must be one of {PLACEMENTS}, got {placement!r}')
        self.placement = placement
        if phrase is None:
            phrase = self.default_phrase if placement == 'inline' \
                else self.default_sentence
        self.phrase = phrase
        try:
            probe = self.phrase.format(name='NAME', context='CONTEXT')
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(
                f'phrase {self.phrase!r} may only use the fields {{name}} and '
                f'{{context}} ({type(e).__name__}: {e})') from e
        # Without the context every class would get its plain name back.
        if 'CONTEXT' not in probe:
            raise ValueError(
                f'phrase {self.phrase!r} must contain {{context}}')
        if max_contexts is not None:
            check_range('max_contexts', max_contexts, 1, integer=True,
                        owner=type(self).__name__)
        self.max_contexts = max_contexts

    def check(self, class_ids: Sequence[str], names: Sequence[str]):
        """Validate the source against the class list (before any lookup)."""

    def contexts(self, class_id: str, name: str) -> List[str]:
        """Context strings of one class, most specific first.

        Args:
            class_id (str): WordNet id or class name.
            name (str): Class name shown in prompts.

        Returns:
            list[str]: Possibly empty.
        """
        raise NotImplementedError

    def phrases(self, class_id: str, name: str) -> List[Phrase]:
        """Template slot fillers of one class, deduplicated, in order.

        Returns:
            list[str | tuple[str, str]]: Inline phrases, or ``(name,
            sentence)`` pairs with ``placement='sentence'``.
        """
        found = self.contexts(class_id, name)[:self.max_contexts]
        texts = (self.phrase.format(name=name, context=c) for c in found)
        if self.placement == 'inline':
            return _unique(texts)
        return _unique((name, _capitalise(t)) for t in texts)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _unique(items) -> List[str]:
    return list(dict.fromkeys(items))


class _WordNetSource(BaseContextSource):
    """Reads context records from a contexts file, else from live WordNet.

    Args:
        file (str, optional): A contexts file made by
            ``tools/generate_contexts.py``. Defaults to the files shipped
            with mmbeamclip (keyed by WordNet id): ImageNet-1k and the
            generic vocabulary.
        **kwargs: See :class:`BaseContextSource`.

    Classes missing from the file are looked up in WordNet (a WordNet id, or
    a name's first noun synset), which then must be installed.
    """

    def __init__(self, file: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self.file = file or IMAGENET_CONTEXTS
        self.records: Dict[str, Optional[dict]] = {}
        if file is None:
            self.records.update(read_contexts_file(GENERIC_VOCABULARY))
        self.records.update(read_contexts_file(self.file))

    def record(self, class_id: str) -> Optional[dict]:
        if class_id not in self.records:
            try:
                wn = load_wordnet()
            except RuntimeError as e:
                raise RuntimeError(
                    f'{type(self).__name__}: class {class_id!r} is not in '
                    f'{self.file} and WordNet is needed to look it up. '
                    'Alternatively make a contexts file with '
                    'tools/generate_contexts.py where WordNet is installed '
                    f'and pass it as file=.\n{e}') from e
            synset = find_synset(wn, class_id)
            self.records[class_id] = synset_record(synset) if synset else None
        record = self.records[class_id]
        return record if record and record.get('synset') else None

    def contexts(self, class_id: str, name: str) -> List[str]:
        record = self.record(class_id)
        return self.from_record(record, name) if record else []

    def from_record(self, record: dict, name: str) -> List[str]:
        raise NotImplementedError


@CONTEXT_SOURCES.register_module()
class WordNetHypernyms(_WordNetSource):
    """WordNet hypernyms: "a photo of a crane, a type of wading bird."

    The synset's direct parents come first, then the ancestors of its first
    parent up to WordNet's root ("entity"), so only the first few are
    specific.

    Args:
        max_contexts (int, optional): Number of hypernyms used. Defaults to
            2.
        skip_generic (bool): Skip hypernyms that describe nothing visual
            (:data:`GENERIC_HYPERNYMS`: "entity", "object", "whole",
            "artifact", "device", ...), so the cap counts informative ones.
            Defaults to False (every hypernym, as before the option).
        skip (Sequence[str]): Further hypernyms to skip. Defaults to none.
        **kwargs: See :class:`_WordNetSource`.
    """

    default_phrase = '{name}, a type of {context}'
    default_sentence = 'It is a type of {context}.'

    def __init__(self,
                 max_contexts: Optional[int] = 2,
                 skip_generic: bool = False,
                 skip: Sequence[str] = (),
                 **kwargs):
        super().__init__(max_contexts=max_contexts, **kwargs)
        self.skip = {s.lower() for s in skip}
        if skip_generic:
            self.skip |= GENERIC_HYPERNYMS

    def from_record(self, record: dict, name: str) -> List[str]:
        return [
            h for h in record['hypernyms']
            if h.lower() != name.lower() and h.lower() not in self.skip
        ]


@CONTEXT_SOURCES.register_module()
class WordNetDefinitions(_WordNetSource):
    """The WordNet gloss: "a photo of a crane, large long-necked wading bird
    of marshes and plains in many parts of the world."

    Only the gloss's first clause (before ``;``) is used: later clauses
    elaborate, and the text tower truncates long prompts anyway.
    """

    default_sentence = '{name}: {context}.'

    def from_record(self, record: dict, name: str) -> List[str]:
        gloss = record['definition'].split(';')[0].strip()
        return [gloss] if gloss else []


@CONTEXT_SOURCES.register_module()
class WordNetSynonyms(_WordNetSource):
    """Other lemmas of the synset, each replacing the class name:
    maillot (n03710721) -> "a photo of a tank suit."

    Many synsets have no other lemma; those classes get no context from this
    source.
    """

    default_phrase = '{context}'
    default_sentence = 'Also called {context}.'

    def from_record(self, record: dict, name: str) -> List[str]:
        return [
            lemma for lemma in record['lemmas']
            if lemma.lower() != name.lower()
        ]


@CONTEXT_SOURCES.register_module()
class JSONContexts(BaseContextSource):
    """User contexts from a JSON file ``{class: [context, ...]}``.

    Keys are class identifiers (WordNet ids or dataset class names) or class
    names; a class takes the entry of its identifier, else of its name.
    Values are a string or a list of non-empty strings.

    Args:
        file (str): The JSON file.
        allow_unknown (bool): Accept keys that match no class (e.g. a file
            for a superset of the classes). By default they raise, since
            they usually are typos that would silently leave a class
            without contexts. Defaults to False.
        **kwargs: See :class:`BaseContextSource`.
    """

    def __init__(self, file: str, allow_unknown: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.file = file
        self.allow_unknown = allow_unknown
        data = read_json(file)
        if not isinstance(data, dict):
            raise ValueError(f'{file} must hold a JSON object '
                             '{class: [context, ...]}')
        self.table: Dict[str, List[str]] = {}
        for key, value in data.items():
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(
                    isinstance(v, str) and v.strip() for v in value):
                raise ValueError(
                    f'{file}: contexts of {key!r} must be a non-empty string '
                    f'or a list of them, got {value!r}')
            self.table[key] = [v.strip() for v in value]

    def check(self, class_ids: Sequence[str], names: Sequence[str]):
        known = set(class_ids) | set(names)
        unknown = [k for k in self.table if k not in known]
        if unknown and not self.allow_unknown:
            raise ValueError(
                f'{self.file}: {len(unknown)} keys match no class: '
                f'{unknown[:10]}. Keys must be class ids or names (e.g. '
                f'{list(class_ids)[:3]}); set allow_unknown=True if the file '
                'covers more classes on purpose.')

    def contexts(self, class_id: str, name: str) -> List[str]:
        return self.table.get(class_id, self.table.get(name, []))


ContextsCfg = Union[dict, Sequence[dict]]


def build_context_sources(cfg: ContextsCfg) -> List[BaseContextSource]:
    """Context sources from one config dict or a list of them.

    Args:
        cfg (dict | Sequence[dict]): ``dict(type='WordNetHypernyms', ...)``
            or a list of such dicts, whose contexts are used in list order.

    Returns:
        list[BaseContextSource]: The sources.
    """
    cfgs = [cfg] if isinstance(cfg, dict) else list(cfg)
    if not cfgs:
        raise ValueError('contexts is an empty list; use None for no CPA')
    sources = []
    for c in cfgs:
        if not isinstance(c, dict) or 'type' not in c:
            raise TypeError('each context source config must be a dict with '
                            f"a 'type', got {c!r}")
        args = dict(c)
        name = args.pop('type')
        cls = CONTEXT_SOURCES.get(name)
        if cls is None:
            raise KeyError(
                f'Unknown context source {name!r}; registered: '
                f'{sorted(CONTEXT_SOURCES.module_dict)}')
        sources.append(cls(**args))
    return sources


def class_phrases(sources: Sequence[BaseContextSource],
                  class_ids: Sequence[str],
                  names: Sequence[str],
                  include_plain: bool = False) -> List[List[Phrase]]:
    """The template slot fillers of every class, from all sources.

    A class with no context from any source falls back to its plain name
    (the prompts CPA would use without contexts) with a warning, instead of
    failing: synonyms and user files legitimately miss classes, and every
    class still needs anchors.

    Args:
        sources (Sequence[BaseContextSource]): Used in order.
        class_ids (Sequence[str]): C class identifiers.
        names (Sequence[str]): C class names.
        include_plain (bool): Also keep the plain name as the first phrase.
            Defaults to False.

    Returns:
        list[list[str | tuple[str, str]]]: C non-empty lists of phrases
        (see :meth:`BaseContextSource.phrases`).
    """
    if len(class_ids) != len(names):
        raise ValueError('class_ids and names differ in length')
    for source in sources:
        source.check(class_ids, names)
    out, bare = [], []
    for class_id, name in zip(class_ids, names):
        phrases = [name] if include_plain else []
        for source in sources:
            phrases += source.phrases(class_id, name)
        phrases = _unique(phrases)
        if not phrases or phrases == [name] and not include_plain:
            bare.append(class_id)
            phrases = [name]
        out.append(phrases)
    if bare:
        warnings.warn(
            f'CPA: {len(bare)} of {len(names)} classes have no context and '
            f'use their plain name: {bare[:10]}'
            f'{" ..." if len(bare) > 10 else ""}')
    return out
