"""Out-of-range parameters are refused when built or parsed (issue 19).

Every registered component's numeric parameter, driven with out-of-range
values (hypothesis), raises a ValueError/TypeError naming the parameter;
every numeric flag of every tool and benchmark entry script makes argparse
exit with code 2 naming the flag, never a traceback.
"""
import argparse
import contextlib
import glob
import importlib.util
import io
import math
import os.path as osp

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmpretrain.registry import HOOKS, MODELS, TRANSFORMS
from tool_loader import load_tool

from mmbeamclip.registry import CONTEXT_SOURCES

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FAST = settings(max_examples=20, deadline=None)

# ----------------------------------------------------------- bad values
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
NOT_A_NUMBER = st.sampled_from(['0.1', None, [1.0]])
NOT_POSITIVE = st.floats(max_value=0) | NOT_FINITE | NOT_A_NUMBER
NEGATIVE = (st.floats(max_value=0, exclude_max=True) | NOT_FINITE
            | NOT_A_NUMBER)
INT_BELOW_1 = st.integers(max_value=0) | st.sampled_from([1.5, '2'])
INT_BELOW_0 = st.integers(max_value=-1) | st.sampled_from([1.5, '2', None])
NOT_PROBABILITY = (st.floats(min_value=1, exclude_min=True)
                   | st.floats(max_value=0, exclude_max=True)
                   | st.just(math.nan))

# (registry, base config, parameter, bad values). The base builds (or
# fails after the checks, for components that need files).
COMPONENTS = [
    (MODELS, dict(type='CSMLoss'), 'tau_t', NOT_POSITIVE),
    (MODELS, dict(type='CSMLoss'), 'tau_s', NOT_POSITIVE),
    (MODELS, dict(type='CSMLoss'), 'loss_weight', NOT_POSITIVE),
    (MODELS, dict(type='CSMHead'), 'predict_temperature', NOT_POSITIVE),
    (MODELS, dict(type='CSMHead'), 'embed_weight', NEGATIVE),
    (MODELS, dict(type='FeatureRegressionHead'), 'predict_temperature',
     NOT_POSITIVE),
    (MODELS, dict(type='FeatureRegressionHead'), 'loss_weight',
     NOT_POSITIVE),
    (MODELS, dict(type='PooledBatchNormNeck', in_channels=8), 'in_channels',
     INT_BELOW_1),
    (MODELS, dict(type='PooledBatchNormNeck', in_channels=8), 'eps',
     NOT_POSITIVE),
    (MODELS,
     dict(type='BeamCLIP', backbone={}, neck={}, head={},
          target_generator={}), 'ssl_weight', NEGATIVE),
    (MODELS,
     dict(type='OpenCLIPTeacher', model_name='RN50', pretrained='x.pt'),
     'image_size', INT_BELOW_1),
    (MODELS,
     dict(type='OpenCLIPTeacher', model_name='RN50', pretrained='x.pt'),
     'text_batch_size', st.integers(max_value=0)),
    (HOOKS, dict(type='CheckFiniteHook'), 'interval', INT_BELOW_1),
    (HOOKS, dict(type='CheckFiniteHook'), 'max_abs', NOT_POSITIVE),
    (HOOKS, dict(type='PromptBankHook', classnames=['cat', 'dog']),
     'batch_size', INT_BELOW_1),
    (HOOKS, dict(type='PromptBankHook', classnames=['cat', 'dog']),
     'max_prompts', INT_BELOW_1),
    (TRANSFORMS, dict(type='ReplayCachedView', scale=8), 'scale',
     INT_BELOW_1),
    (TRANSFORMS, dict(type='ReplayCachedView', scale=8), 'flip_prob',
     NOT_PROBABILITY),
    (TRANSFORMS, dict(type='ReplayCachedView', scale=8), 'max_attempts',
     INT_BELOW_0),
    (TRANSFORMS, dict(type='ReplayCachedView', scale=8), 'crop_ratio_range',
     st.tuples(NOT_PROBABILITY, st.just(1.0))),
    (TRANSFORMS, dict(type='ReplayCachedView', scale=8),
     'aspect_ratio_range', st.tuples(NOT_POSITIVE, st.just(1.0))),
    (CONTEXT_SOURCES, dict(type='WordNetHypernyms'), 'max_contexts',
     INT_BELOW_1),
    (CONTEXT_SOURCES, dict(type='WordNetDefinitions'), 'max_contexts',
     INT_BELOW_1),
    (CONTEXT_SOURCES, dict(type='WordNetSynonyms'), 'max_contexts',
     INT_BELOW_1),
]


@pytest.mark.parametrize(
    'registry,base,name,values',
    COMPONENTS,
    ids=[f'{c[1]["type"]}.{c[2]}' for c in COMPONENTS])
def test_component_refuses_out_of_range(registry, base, name, values):

    @FAST
    @given(values)
    def check(value):
        with pytest.raises((ValueError, TypeError)) as info:
            registry.build(dict(base, **{name: value}))
        assert name in str(info.value), str(info.value)
        assert '\n' not in str(info.value)

    check()


# ---------------------------------------------------------------- tools
def _benchmark(name):
    spec = importlib.util.spec_from_file_location(
        f'bench_{name}', osp.join(ROOT, 'benchmarks', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module(script):
    folder, name = script.split('/')
    name = name[:-3]
    return load_tool(name) if folder == 'tools' else _benchmark(name)


FLAG_INT_BELOW_1 = st.integers(max_value=0).map(str) | st.sampled_from(
    ['1.5', 'abc', '', 'nan'])
FLAG_INT_BELOW_0 = st.integers(max_value=-1).map(str) | st.sampled_from(
    ['0.5', 'x'])
FLAG_NOT_POSITIVE = (st.floats(max_value=0).map(str)
                     | st.sampled_from(['nan', 'inf', '-inf', 'abc', '']))

# script -> (positional arguments, {flag: bad values})
TOOLS = {
    'tools/ambiguity_report.py': (['--model', 'RN50'], {
        '--max-prompts': FLAG_INT_BELOW_1,
        '--top': FLAG_INT_BELOW_1,
        '--batch-size': FLAG_INT_BELOW_1,
    }),
    'tools/build_vocabulary.py': (['--out', 'v.txt'], {
        '--min-count': FLAG_INT_BELOW_1,
    }),
    'tools/cache_teacher_targets.py': (['cfg.py'], {
        '--num-views': FLAG_INT_BELOW_1,
        '--seed': FLAG_INT_BELOW_0,
        '--shard-size': FLAG_INT_BELOW_1,
        '--batch-size': FLAG_INT_BELOW_1,
        '--workers': FLAG_INT_BELOW_0,
        '--max-shards': FLAG_INT_BELOW_1,
        '--local_rank': FLAG_INT_BELOW_0,
    }),
    'tools/demo.py': ([], {
        '--epochs': FLAG_INT_BELOW_1,
    }),
    'tools/extract_student.py': (['in.pth', 'out.pth'], {
        '--input-size': FLAG_INT_BELOW_1,
        '--opset': st.integers(max_value=6).map(str),
    }),
    'tools/knn_eval.py': (['in.pth', '--data-root', 'd'], {
        '--k': FLAG_INT_BELOW_1,
        '--temperature': FLAG_NOT_POSITIVE,
        '--img-size': FLAG_INT_BELOW_1,
        '--batch-size': FLAG_INT_BELOW_1,
        '--workers': FLAG_INT_BELOW_0,
    }),
    'benchmarks/build_proxy_teacher.py': ([], {
        '--max-images': FLAG_INT_BELOW_1,
        '--embed-dim': FLAG_INT_BELOW_1,
        '--image-size': FLAG_INT_BELOW_1,
        '--steps': FLAG_INT_BELOW_1,
        '--seed': FLAG_INT_BELOW_0,
    }),
    'benchmarks/quality.py': ([], {
        '--epochs': FLAG_INT_BELOW_1,
    }),
    'benchmarks/throughput.py': ([], {
        '--batch-size': FLAG_INT_BELOW_1,
        '--img-size': FLAG_INT_BELOW_1,
        '--iters': FLAG_INT_BELOW_1,
        '--warmup': FLAG_INT_BELOW_0,
        '--num-anchors': FLAG_INT_BELOW_1,
        '--cache-samples': FLAG_INT_BELOW_1,
        '--cache-views': FLAG_INT_BELOW_1,
        '--threads': FLAG_INT_BELOW_1,
    }),
}
FLAGS = [(script, flag) for script, (_, flags) in TOOLS.items()
         for flag in flags]


@pytest.fixture(scope='module')
def modules():
    return {script: _module(script) for script in TOOLS}


@pytest.mark.parametrize('script,flag', FLAGS,
                         ids=[f'{s}{f}' for s, f in FLAGS])
def test_flag_refuses_out_of_range(modules, script, flag):
    positional, flags = TOOLS[script]
    parse_args = modules[script].parse_args

    @FAST
    @given(flags[flag])
    def check(text):
        err = io.StringIO()
        with pytest.raises(SystemExit) as info, \
                contextlib.redirect_stderr(err):
            parse_args(positional + [f'{flag}={text}'])
        assert info.value.code == 2
        assert f'argument {flag}' in err.getvalue(), err.getvalue()
        assert 'Traceback' not in err.getvalue()

    check()


class _Parsed(Exception):
    pass


def _parser_of(module, monkeypatch):
    """The parser a script's ``parse_args`` builds (caught at parse)."""
    seen = []

    def capture(parser, *args, **kwargs):
        seen.append(parser)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', capture)
    with pytest.raises(_Parsed):
        module.parse_args([])
    return seen[0]


SCRIPTS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'tools', '*.py')) +
    glob.glob(osp.join(ROOT, 'benchmarks', '*.py'))
    if 'def parse_args(' in open(p).read())


@pytest.mark.parametrize('script', SCRIPTS)
def test_every_numeric_flag_is_ranged(modules, script, monkeypatch):
    module = modules.get(script) or _module(script)
    assert 'argv' in module.parse_args.__code__.co_varnames, (
        f'{script}: parse_args(argv=None) lets the test drive it')
    parser = _parser_of(module, monkeypatch)
    for action in parser._actions:
        assert action.type not in (int, float), (
            f'{script} {action.option_strings}: a bare {action.type} flag; '
            'use a type of mmbeamclip/utils/arg_types.py')
        if getattr(action.type, '__module__', '') == \
                'mmbeamclip.utils.arg_types':
            assert set(action.option_strings) & set(TOOLS[script][1]), (
                f'{script} {action.option_strings}: add it to TOOLS')
