"""Precompute a config's prompt bank into the cache (e.g. on a login node).

    python tools/build_prompt_bank.py CONFIG [--cache-dir DIR]

Training with the same config, teacher and cache folder then loads the bank
instead of encoding the prompts again.
"""
import argparse

import library_warnings  # noqa: F401  (before mmcv is imported)
from mmengine.config import DictAction
from mmpretrain.registry import DATASETS, MODELS

from mmbeamclip.prompts import (PromptRecipe, default_prompt_bank_dir,
                                load_or_build_prompt_bank)
from mmbeamclip.utils import load_tool_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training config')
    parser.add_argument('--cache-dir', help='override the hook cache_dir')
    parser.add_argument(
        '--device', default='cpu', help='device of the teacher')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='as train.py')
    return parser.parse_args(argv)


def dataset_classes(cfg):
    """The classes of the evaluated (else training) dataset, as the hook
    reads them for ``classnames='dataset'``."""
    loader = cfg.get('val_dataloader') or cfg.train_dataloader
    return list(DATASETS.build(loader.dataset).metainfo['classes'])


def main():
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options)
    hook_cfgs = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] == 'PromptBankHook'
    ]
    if not hook_cfgs:
        raise ValueError(f'{args.config} has no PromptBankHook in '
                         'custom_hooks')
    hook_cfg = dict(hook_cfgs[0])
    recipe = PromptRecipe.from_hook_cfg(hook_cfg)
    cache_dir = args.cache_dir or hook_cfg.get('cache_dir') or \
        default_prompt_bank_dir()
    teacher = MODELS.build(cfg.model.target_generator).to(args.device)
    classes, _ = recipe.resolve(
        dataset_classes(cfg) if recipe.from_dataset else None)
    class_prompts, key = recipe.prompts_and_key(teacher.teacher_id, classes)
    bank, _ = load_or_build_prompt_bank(
        teacher,
        class_prompts,
        key,
        cache_dir=cache_dir,
        aggregate=recipe.aggregate,
        batch_size=hook_cfg.get('batch_size', 256),
        progress=hook_cfg.get('progress', True))
    print(f'Prompt bank {key[:12]}: {tuple(bank.shape)} in {cache_dir}')


if __name__ == '__main__':
    main()
