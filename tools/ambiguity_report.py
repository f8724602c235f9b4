"""Which classes does the teacher confuse by name, and does CPA separate them?

    # from a training config (its teacher and PromptBankHook settings)
    python tools/ambiguity_report.py --config CONFIG.py [--top 20]
    # from teacher arguments, e.g. a staged or proxy local-dir: model
    python tools/ambiguity_report.py --model ViT-B-16 \\
        --pretrained local-dir:/path/to/teacher --classes imagenet \\
        --templates simple_imagenet --contexts hypernyms --out report.json
    # raw WordNet names, contexts as a sentence, generic hypernyms skipped
    python tools/ambiguity_report.py --config CONFIG.py \\
        --classes imagenet_wordnet --placement sentence --skip-generic

For each class it encodes the plain-name prompts (templates x class name)
and the CPA prompts (templates x contexts) and averages each set into one
L2-normalised prototype. It lists the class pairs whose plain prototypes are
most similar, with their cosine before and after CPA and their rank among
all pairs after CPA (1 = most similar). CPA adds shared words ("a type of")
to every prompt, which can raise all cosines, so the rank is the fairer
measure of separation.
"""
import argparse
import json
import sys

import library_warnings  # noqa: F401  (before mmcv is imported)
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

from mmbeamclip.prompts import (PromptRecipe, build_prompt_bank,
                                resolve_classnames)
from mmbeamclip.utils import (atomic_write_text, check_not_input,
                              load_tool_config, loads_json)
from mmbeamclip.utils.arg_types import positive_int

CONTEXT_SHORTCUTS = {
    'hypernyms': dict(type='WordNetHypernyms'),
    'definitions': dict(type='WordNetDefinitions'),
    'synonyms': dict(type='WordNetSynonyms'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    src = parser.add_argument_group('teacher (a config or model arguments)')
    src.add_argument('--config', help='training config with a PromptBankHook')
    src.add_argument('--model', help='open_clip model name, e.g. ViT-B-16')
    src.add_argument(
        '--pretrained', help='pretrained tag, weight file or local-dir:DIR')
    src.add_argument(
        '--precision', default='fp32', help='teacher precision (fp32)')
    parser.add_argument(
        '--classes',
        help='classes: preset, file or comma list (default: the config\'s, '
        'else imagenet)')
    parser.add_argument(
        '--templates',
        help='template preset/file (default: the config\'s, else '
        'simple_imagenet)')
    parser.add_argument(
        '--contexts',
        help='hypernyms | definitions | synonyms | a JSON dict/list of source '
        'configs | a user JSON contexts file (default: the config hook\'s '
        'contexts, else hypernyms)')
    parser.add_argument(
        '--placement',
        choices=('inline', 'sentence'),
        help='where contexts go: in the template slot or as a sentence '
        'after it (default: the source\'s, inline)')
    parser.add_argument(
        '--skip-generic',
        action='store_true',
        help='WordNetHypernyms: skip generic hypernyms ("object", ...)')
    parser.add_argument(
        '--max-prompts', type=positive_int, help='prompts per class bound')
    parser.add_argument(
        '--top', type=positive_int, default=20, help='pairs to list (20)')
    parser.add_argument('--device', default='cpu', help='teacher device')
    parser.add_argument('--batch-size',
                        type=positive_int,
                        default=256,
                        help='prompts per forward')
    parser.add_argument('--out', help='also write the report as JSON')
    args = parser.parse_args(argv)
    if bool(args.config) == bool(args.model):
        parser.error('pass either --config or --model (+ --pretrained)')
    check_not_input(
        args.out,
        dict(config=args.config, pretrained=args.pretrained,
             classes=args.classes, templates=args.templates,
             contexts=args.contexts),
        parser=parser)
    return args


def parse_contexts(spec):
    """A context config from a shortcut, a JSON string or a JSON file."""
    if spec in CONTEXT_SHORTCUTS:
        return dict(CONTEXT_SHORTCUTS[spec])
    if spec.lstrip().startswith(('{', '[')):
        return loads_json(spec, '--contexts')
    return dict(type='JSONContexts', file=spec)


def load_setup(args):
    """The teacher and the prompt-recipe settings (a hook config)."""
    init_default_scope('mmpretrain')
    hook_cfg = dict(
        classnames='imagenet',
        templates='simple_imagenet',
        contexts=None,
        aggregate='mean')
    if args.config:
        cfg = load_tool_config(args.config)
        hooks = [
            h for h in cfg.get('custom_hooks', [])
            if h['type'] == 'PromptBankHook'
        ]
        if not hooks:
            raise ValueError(f'{args.config} has no PromptBankHook')
        hook_cfg.update(hooks[0].to_dict() if hasattr(hooks[0], 'to_dict')
                        else dict(hooks[0]))
        hook_cfg.pop('type')
        teacher_cfg = cfg.model.target_generator
        if hook_cfg['classnames'] == 'dataset' and not args.classes:
            loader = cfg.get('val_dataloader') or cfg.train_dataloader
            hook_cfg['classnames'] = list(
                DATASETS.build(loader.dataset).metainfo['classes'])
    else:
        teacher_cfg = dict(
            type='OpenCLIPTeacher',
            model_name=args.model,
            pretrained=args.pretrained,
            precision=args.precision)
    if args.classes:
        hook_cfg['classnames'] = args.classes if (
            ',' not in args.classes) else args.classes.split(',')
    if args.templates:
        hook_cfg['templates'] = args.templates
    if args.contexts:
        hook_cfg['contexts'] = parse_contexts(args.contexts)
    elif hook_cfg.get('contexts') is None:
        hook_cfg['contexts'] = dict(CONTEXT_SHORTCUTS['hypernyms'])
    for source in ([hook_cfg['contexts']] if isinstance(
            hook_cfg['contexts'], dict) else hook_cfg['contexts']):
        if args.placement:
            source['placement'] = args.placement
        if args.skip_generic and source['type'] == 'WordNetHypernyms':
            source['skip_generic'] = True
    if args.max_prompts:
        hook_cfg['max_prompts'] = args.max_prompts
    teacher = MODELS.build(teacher_cfg).to(args.device)
    return teacher, hook_cfg


def prototypes(teacher, class_prompts, batch_size):
    """(C, D) class means of the normalised prompt embeddings."""
    with torch.no_grad():
        bank, _ = build_prompt_bank(
            teacher.encode_text,
            class_prompts,
            aggregate='mean',
            batch_size=batch_size,
            progress=False)
    return bank


def ambiguity_report(teacher, recipe, classes=None, top=20, batch_size=256):
    """Most similar class pairs by name, and their cosine with CPA.

    Args:
        teacher: Anything with ``encode_text(list[str]) -> (N, D)``.
        recipe (PromptRecipe): Gives the classes, templates and the CPA
            settings.
        classes (list[str], optional): Class identifiers (WordNet ids or
            names). Defaults to the recipe's vocabulary.
        top (int): Number of pairs to list. Defaults to 20.
        batch_size (int): Prompts per forward. Defaults to 256.

    Returns:
        dict: ``pairs`` (a list of dicts, most similar plain pair first) and
        ``summary`` statistics over all pairs.
    """
    if classes is None:
        classes, names = recipe.resolve()
    else:
        classes, names = list(classes), resolve_classnames(classes)
    if len(names) < 2:
        raise ValueError('the report needs at least two classes')
    plain = recipe.plain_prompts(classes)
    cpa = recipe.class_prompts(classes)
    before = prototypes(teacher, plain, batch_size)
    after = prototypes(teacher, cpa, batch_size)
    i, j = torch.triu_indices(len(names), len(names), offset=1)
    cos_before = (before[i] * before[j]).sum(-1)
    cos_after = (after[i] * after[j]).sum(-1)
    # rank 1 = the most similar pair under CPA
    rank_after = torch.empty_like(i)
    rank_after[cos_after.argsort(descending=True)] = torch.arange(
        1, len(i) + 1)
    order = cos_before.argsort(descending=True)[:top]
    pairs = []
    for r, k in enumerate(order.tolist()):
        pairs.append(
            dict(
                a=classes[i[k]],
                b=classes[j[k]],
                name_a=names[i[k]],
                name_b=names[j[k]],
                cos_before=round(float(cos_before[k]), 4),
                cos_after=round(float(cos_after[k]), 4),
                rank_before=r + 1,
                rank_after=int(rank_after[k])))
    top_idx = order
    summary = dict(
        num_classes=len(names),
        num_pairs=len(i),
        prompts_per_class_before=sum(map(len, plain)) / len(plain),
        prompts_per_class_after=sum(map(len, cpa)) / len(cpa),
        mean_cos_before=round(float(cos_before.mean()), 4),
        mean_cos_after=round(float(cos_after.mean()), 4),
        top_mean_cos_before=round(float(cos_before[top_idx].mean()), 4),
        top_mean_cos_after=round(float(cos_after[top_idx].mean()), 4),
        top_median_rank_after=int(rank_after[top_idx].median()))
    return dict(summary=summary, pairs=pairs)


def format_report(report, teacher_id, contexts):
    s = report['summary']
    lines = [
        f'teacher: {teacher_id}',
        f'contexts: {json.dumps(contexts)}',
        f"{s['num_classes']} classes, {s['num_pairs']} pairs; prompts/class "
        f"{s['prompts_per_class_before']:.1f} plain, "
        f"{s['prompts_per_class_after']:.1f} CPA",
        f"mean cosine over all pairs: {s['mean_cos_before']:.4f} plain -> "
        f"{s['mean_cos_after']:.4f} CPA",
        f"top-{len(report['pairs'])} pairs: mean cosine "
        f"{s['top_mean_cos_before']:.4f} -> {s['top_mean_cos_after']:.4f}, "
        f"median rank after CPA {s['top_median_rank_after']}",
        '',
        f"{'rank':>4} {'cos plain':>9} {'cos CPA':>8} {'rank CPA':>8}  "
        'class a | class b',
    ]
    for p in report['pairs']:
        lines.append(
            f"{p['rank_before']:>4} {p['cos_before']:>9.4f} "
            f"{p['cos_after']:>8.4f} {p['rank_after']:>8}  "
            f"{p['name_a']} ({p['a']}) | {p['name_b']} ({p['b']})")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    teacher, hook_cfg = load_setup(args)
    recipe = PromptRecipe.from_hook_cfg(hook_cfg)
    report = ambiguity_report(
        teacher, recipe, top=args.top, batch_size=args.batch_size)
    report['teacher'] = teacher.teacher_id
    report['contexts'] = hook_cfg['contexts']
    report['templates'] = len(recipe.templates)
    print(format_report(report, teacher.teacher_id, hook_cfg['contexts']))
    if args.out:
        atomic_write_text(args.out,
                          json.dumps(report, indent=1, ensure_ascii=False))
        print(f'Wrote {args.out}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError) as exc:
        # Bad input (a file, a --contexts value) or a full disk (WriteError
        # is an OSError naming the file): one line, no traceback.
        sys.exit(f'ambiguity_report.py: error: {exc}')
