"""The bad-input catalogue: every row of every ``cases_<area>.py``.

Each row feeds one bad input and checks that the user gets a clear error or
warning that names the file or value at fault, never a silently wrong
result. ``docs/reliability.md`` lists the rows (checked below).
"""
import glob
import importlib
import os.path as osp
from types import SimpleNamespace

import pytest

# pytest puts this folder on sys.path (rootdir-less test modules), so the
# cases_<area> modules import by name.
HERE = osp.dirname(osp.abspath(__file__))
DOC = osp.join(osp.dirname(osp.dirname(HERE)), 'docs', 'reliability.md')


def _all_cases():
    cases = []
    for path in sorted(glob.glob(osp.join(HERE, 'cases_*.py'))):
        module = importlib.import_module(osp.basename(path)[:-3])
        cases.extend(module.CASES)
    return cases


CASES = _all_cases()


def test_case_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(
        i for i in ids if ids.count(i) > 1)


def test_catalogue_documented():
    with open(DOC, encoding='utf-8') as f:
        doc = f.read()
    missing = [c.id for c in CASES if f'`{c.id}`' not in doc]
    assert not missing, f'docs/reliability.md does not list {missing}'


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, tiny_teacher_cfg):
    ctx = SimpleNamespace(tmp_path=tmp_path, tiny_teacher_cfg=tiny_teacher_cfg)
    expect = case.expect if isinstance(case.expect, tuple) else (
        case.expect, )
    if all(issubclass(e, Warning) for e in expect):
        with pytest.warns(expect) as record:
            case.run(ctx)
        message = ' '.join(
            str(r.message) for r in record
            if issubclass(r.category, expect))
    else:
        with pytest.raises(expect) as info:
            case.run(ctx)
        message = str(info.value)
    lowered = message.lower()
    missing = [w for w in case.words if w.lower() not in lowered]
    assert not missing, f'message lacks {missing}: {message}'
