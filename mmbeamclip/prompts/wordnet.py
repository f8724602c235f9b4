"""Offline WordNet 3.0 through NLTK, and the context records CPA reads.

A *context record* is what CPA needs to know about one class's synset::

    {"wnid": "n02012849", "synset": "crane.n.05", "name": "crane",
     "lemmas": ["crane"],
     "definition": "large long-necked wading bird of marshes and plains ...",
     "hypernyms": ["wading bird", "aquatic bird", "bird", ...]}

``hypernyms`` runs from the nearest to the root of WordNet. A *contexts
file* (JSON) holds records keyed by class identifier (a WordNet id or a class
name) in class order; ``synset`` is null for a class WordNet does not know.
The ImageNet-1k file ships with the package, so training needs no WordNet.
"""
import json
import os
import os.path as osp
import re
import shutil
import tempfile
import warnings
from functools import lru_cache
from typing import Dict, Optional, Sequence

from mmbeamclip.utils.fileio import atomic_write_text, cache_root, read_json

WNID = re.compile(r'^n\d{8}$')
DEBIAN_WORDNET_DIR = '/usr/share/wordnet'
DATA_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')
IMAGENET_CONTEXTS = osp.join(DATA_DIR, 'imagenet_contexts.json')
# The generic anchor vocabulary (tools/build_vocabulary.py), a contexts file.
GENERIC_VOCABULARY = osp.join(DATA_DIR, 'wordnet_generic.json')

# NLTK's reader needs ``lexnames``, which Debian does not ship: the 45
# lexicographer files of WordNet 3.0 (man page lexnames(5WN)), in file-number
# order; the syntactic category is 1 noun, 2 verb, 3 adj, 4 adv.
WORDNET_LEXNAMES = (
    'adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact '
    'noun.attribute noun.body noun.cognition noun.communication noun.event '
    'noun.feeling noun.food noun.group noun.location noun.motive noun.object '
    'noun.person noun.phenomenon noun.plant noun.possession noun.process '
    'noun.quantity noun.relation noun.shape noun.state noun.substance '
    'noun.time verb.body verb.change verb.cognition verb.communication '
    'verb.competition verb.consumption verb.contact verb.creation '
    'verb.emotion verb.motion verb.perception verb.possession verb.social '
    'verb.stative verb.weather adj.ppl').split()
_LEX_POS = dict(noun=1, verb=2, adj=3, adv=4)

WORDNET_HELP = (
    'WordNet 3.0 is not available. Install it offline with\n'
    '    pip install nltk   (or: pip install -e ".[cpa]")\n'
    '    apt-get install wordnet-base wordnet-sense-index\n'
    'mmbeamclip then prepares an NLTK copy of /usr/share/wordnet (plus the '
    '"lexnames" file Debian lacks) under $MMBEAMCLIP_CACHE/nltk_data '
    '(default ~/.cache/mmbeamclip/nltk_data). Without root, use '
    '`apt-get download` + `dpkg -x` and set WNSEARCHDIR to the extracted '
    'usr/share/wordnet, or provide <NLTK_DATA>/corpora/wordnet yourself and '
    'set NLTK_DATA. Training on ImageNet-1k needs none of this: its contexts '
    'ship with mmbeamclip.')


class WordNetUnavailable(RuntimeError):
    """Raised when neither NLTK's WordNet nor the Debian files are found."""


def lexnames_text() -> str:
    """The ``lexnames`` file NLTK expects: ``NN<TAB>name<TAB>pos`` lines."""
    return ''.join(f'{i:02d}\t{name}\t{_LEX_POS[name.split(".")[0]]}\n'
                   for i, name in enumerate(WORDNET_LEXNAMES))


def _nltk_data_root() -> str:
    return cache_root('nltk_data')


def prepare_nltk_wordnet(src_dir: str, nltk_data: str) -> str:
    """Copy the Debian WordNet files into an NLTK data folder.

    Copies, not symlinks: NLTK refuses files that resolve outside its data
    path. The folder is filled under a temporary name and renamed into place,
    so concurrent processes never see half a copy.

    Args:
        src_dir (str): Folder with ``data.noun``, ``index.sense``, ...
        nltk_data (str): NLTK data root; the files go to
            ``<nltk_data>/corpora/wordnet``.

    Returns:
        str: The ``corpora/wordnet`` folder.
    """
    dst = osp.join(nltk_data, 'corpora', 'wordnet')
    if osp.isfile(osp.join(dst, 'lexnames')):
        return dst
    os.makedirs(osp.dirname(dst), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.wordnet-', dir=osp.dirname(dst))
    for name in os.listdir(src_dir):
        path = osp.join(src_dir, name)
        if osp.isfile(path):
            shutil.copyfile(path, osp.join(tmp, name))
    with open(osp.join(tmp, 'lexnames'), 'w', encoding='utf-8') as f:
        f.write(lexnames_text())
    try:
        os.rename(tmp, dst)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


@lru_cache(maxsize=None)
def load_wordnet():
    """An NLTK WordNet 3.0 reader, found offline.

    Tries NLTK's own data path (``NLTK_DATA``) first, then the Debian
    ``wordnet-base`` + ``wordnet-sense-index`` files (``$WNSEARCHDIR`` or
    ``/usr/share/wordnet``), copied once into an NLTK data folder.

    Returns:
        nltk.corpus.reader.WordNetCorpusReader: The reader.

    Raises:
        WordNetUnavailable: With install instructions.
    """
    try:
        import nltk
    except ImportError as e:
        raise WordNetUnavailable(f'{WORDNET_HELP}\n({e})') from e
    try:
        folder = nltk.data.find('corpora/wordnet')
        return _reader(folder)
    except LookupError:
        pass
    src = os.environ.get('WNSEARCHDIR', DEBIAN_WORDNET_DIR)
    needed = ('data.noun', 'index.sense')
    if not all(osp.isfile(osp.join(src, f)) for f in needed):
        raise WordNetUnavailable(
            f'{WORDNET_HELP}\n(NLTK found no corpora/wordnet in '
            f'{nltk.data.path} and {src} lacks data.noun / index.sense.)')
    root = _nltk_data_root()
    folder = prepare_nltk_wordnet(src, root)
    if root not in nltk.data.path:
        nltk.data.path.append(root)
    return _reader(folder)


def _reader(folder):
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    with warnings.catch_warnings():
        # Without the Open Multilingual Wordnet NLTK warns that its
        # multilingual functions are off; CPA uses English only.
        warnings.simplefilter('ignore', UserWarning)
        return _check_version(WordNetCorpusReader(folder, None))


def _check_version(wn):
    # The shipped ImageNet contexts and every wnid are WordNet 3.0 offsets.
    if wn.get_version() != '3.0':
        raise WordNetUnavailable(
            f'Found WordNet {wn.get_version()}, but ImageNet ids are WordNet '
            f'3.0 offsets.\n{WORDNET_HELP}')
    return wn


def _display(lemma_name: str) -> str:
    return lemma_name.replace('_', ' ')


def find_synset(wn, class_id: str):
    """The synset of a WordNet id, else the first noun synset of a name.

    Args:
        wn: A WordNet reader (:func:`load_wordnet`).
        class_id (str): ``'n02012849'`` or a class name (``'crane'``).

    Returns:
        Synset | None: None if the id or name is unknown. For a name this is
        its most frequent noun sense, which may not be the one meant; pass
        WordNet ids where the name is ambiguous.
    """
    if WNID.match(class_id):
        try:
            return wn.synset_from_pos_and_offset('n', int(class_id[1:]))
        except Exception:  # NLTK raises WordNetError or a bare LookupError
            return None
    synsets = wn.synsets(class_id.strip().replace(' ', '_'), pos='n')
    return synsets[0] if synsets else None


def synset_record(synset, name: Optional[str] = None) -> dict:
    """The context record of a synset (see the module docstring).

    Args:
        synset: An NLTK synset.
        name (str, optional): The class name to store. Defaults to the
            synset's first lemma.

    Returns:
        dict: The record.
    """
    lemmas = [_display(n) for n in synset.lemma_names()]
    chain, node = [], synset
    while True:
        # NLTK keeps pointers in a set, whose order changes with the hash
        # seed; sorting makes the chain (and so the prompts) deterministic.
        parents = sorted(
            node.hypernyms() or node.instance_hypernyms(),
            key=lambda s: s.name())
        if not parents:
            break
        # Every direct parent first (they tell apart e.g. missile.n.01, a
        # weapon and a rocket, from projectile.n.01, only a weapon), then
        # the ancestors through the first parent.
        chain += parents if node is synset else parents[:1]
        node = parents[0]
    hypernyms = []
    for parent in chain:
        label = _display(parent.lemma_names()[0])
        if label not in hypernyms and label != lemmas[0]:
            hypernyms.append(label)
    return dict(
        wnid=f'n{synset.offset():08d}',
        synset=synset.name(),
        name=name or lemmas[0],
        lemmas=lemmas,
        definition=synset.definition(),
        hypernyms=hypernyms)


def generate_records(class_ids: Sequence[str],
                     names: Optional[Sequence[str]] = None,
                     wn=None) -> Dict[str, dict]:
    """Context records of classes, keyed by class identifier, in order.

    Args:
        class_ids (Sequence[str]): WordNet ids or class names.
        names (Sequence[str], optional): Class names to store. Defaults to
            the name given as id, else the synset's first lemma.
        wn: A WordNet reader. Defaults to :func:`load_wordnet`.

    Returns:
        dict[str, dict]: One record per class; a class WordNet does not know
        gets ``{'name': ..., 'synset': None}``.
    """
    wn = wn or load_wordnet()
    names = list(names) if names is not None else [None] * len(class_ids)
    if len(names) != len(class_ids):
        raise ValueError('names and class_ids differ in length')
    records = {}
    for class_id, name in zip(class_ids, names):
        if not WNID.match(class_id):
            name = name or class_id
        synset = find_synset(wn, class_id)
        records[class_id] = synset_record(synset, name) if synset else dict(
            name=name or class_id, synset=None)
    return records


def write_contexts_file(path: str,
                        records: Dict[str, dict],
                        wn=None,
                        generator: str = 'tools/generate_contexts.py'):
    """Write records as a contexts file (what the WordNet sources read)."""
    payload = dict(
        format='mmbeamclip-contexts/1',
        wordnet=wn.get_version() if wn is not None else '3.0',
        generator=generator,
        classes=records)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # One class per line: readable, diffable, and a third of an indented
    # file's size.
    head = json.dumps(payload, ensure_ascii=False, indent=1)
    head = head[:head.rindex('"classes"')]
    lines = [
        f' {json.dumps(k, ensure_ascii=False)}: '
        f'{json.dumps(v, ensure_ascii=False)}' for k, v in records.items()
    ]
    atomic_write_text(path,
                      head + '"classes": {\n' + ',\n'.join(lines) + '\n}}\n')


def read_contexts_file(path: str) -> Dict[str, Optional[dict]]:
    """Records of a contexts file, keyed by class identifier, in file order.

    Raises:
        ValueError: If the file is not a contexts file.
    """
    payload = read_json(path)
    classes = payload.get('classes') if isinstance(payload, dict) else None
    if not isinstance(classes, dict):
        raise ValueError(
            f'{path} is not a contexts file (a JSON object with "classes"); '
            'make one with tools/generate_contexts.py. For a plain '
            '{class: [contexts]} mapping use the JSONContexts source.')
    return classes


def wordnet_records_available() -> bool:
    """Whether :func:`load_wordnet` succeeds (used to skip tests)."""
    try:
        load_wordnet()
        return True
    except WordNetUnavailable:
        return False
