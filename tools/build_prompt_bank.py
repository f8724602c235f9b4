"""Precompute a config's prompt bank into the cache (e.g. on a login node).

    python tools/build_prompt_bank.py configs/beamclip/CONFIG.py [--cache-dir DIR]

Training with the same config, teacher and cache folder then loads the bank
instead of encoding the prompts again.
"""
import argparse

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmbeamclip.engine.hooks import PromptBankHook
from mmbeamclip.engine.hooks.prompt_bank_hook import DATASET
from mmbeamclip.prompts import load_or_build_prompt_bank, resolve_class_ids


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training config')
    parser.add_argument('--cache-dir', help='override the hook cache_dir')
    parser.add_argument(
        '--device', default='cpu', help='device of the teacher')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='as train.py')
    return parser.parse_args()


def dataset_classes(cfg):
    """The dataset's class identifiers (WordNet ids kept for CPA)."""
    from mmpretrain.registry import DATASETS
    loader = cfg.get('val_dataloader') or cfg.train_dataloader
    return resolve_class_ids(
        list(DATASETS.build(loader.dataset).metainfo['classes']))


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import mmbeamclip  # noqa: F401
    from mmpretrain.registry import HOOKS, MODELS
    hook_cfgs = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] in ('PromptBankHook', PromptBankHook)
    ]
    if not hook_cfgs:
        raise ValueError(f'{args.config} has no PromptBankHook in '
                         'custom_hooks')
    hook_cfg = dict(hook_cfgs[0])
    if args.cache_dir:
        hook_cfg['cache_dir'] = args.cache_dir
    hook = HOOKS.build(hook_cfg)
    teacher = MODELS.build(cfg.model.target_generator).to(args.device)
    classes = dataset_classes(cfg) if hook.classes == DATASET \
        else hook.classes
    class_prompts, key = hook.prompts_and_key(teacher.teacher_id, classes)
    bank, _ = load_or_build_prompt_bank(
        teacher,
        class_prompts,
        key,
        cache_dir=hook.cache_dir,
        aggregate=hook.aggregate,
        batch_size=hook.batch_size,
        progress=hook.progress)
    print(f'Prompt bank {key[:12]}: {tuple(bank.shape)} in {hook.cache_dir}')


if __name__ == '__main__':
    main()
