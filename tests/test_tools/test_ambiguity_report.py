"""tools/ambiguity_report.py with the tiny local-dir: teacher."""
import json

from tool_loader import load_tool

# two names shared by two ImageNet classes each, plus two distinct classes
WNIDS = ['n03773504', 'n04008634', 'n04355933', 'n04356056', 'n01440764',
         'n02102040']


def test_report_with_teacher_args(tiny_clip_dir, tmp_path, capsys):
    out = tmp_path / 'report.json'
    code = load_tool('ambiguity_report').main([
        '--model', 'tiny', '--pretrained', f'local-dir:{tiny_clip_dir}',
        '--classes', ','.join(WNIDS), '--templates', 'vanilla',
        '--contexts', 'hypernyms', '--top', '4', '--out', str(out)
    ])
    assert code == 0
    report = json.loads(out.read_text())
    pairs, summary = report['pairs'], report['summary']
    assert summary['num_classes'] == 6 and summary['num_pairs'] == 15
    assert summary['prompts_per_class_before'] == 1
    assert summary['prompts_per_class_after'] == 2
    assert len(pairs) == 4
    cos = [p['cos_before'] for p in pairs]
    assert cos == sorted(cos, reverse=True)
    # identical plain prompts: the two duplicates top the list at cosine 1,
    # and CPA separates them
    top2 = {frozenset((p['a'], p['b'])) for p in pairs[:2]}
    assert top2 == {frozenset(WNIDS[:2]), frozenset(WNIDS[2:4])}
    for p in pairs[:2]:
        assert abs(p['cos_before'] - 1) < 1e-4
        assert p['cos_after'] < p['cos_before'] - 1e-4
        assert 1 <= p['rank_after'] <= 15
    assert 'cos plain' in capsys.readouterr().out


def test_report_from_a_config(tiny_clip_dir, tmp_path, capsys):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"""
model = dict(target_generator=dict(type='OpenCLIPTeacher', model_name='tiny',
             pretrained='local-dir:{tiny_clip_dir}'))
custom_hooks = [dict(type='PromptBankHook', classnames={WNIDS!r},
                     templates=['a photo of a {{}}.', 'art of the {{}}.'],
                     aggregate='none',
                     contexts=dict(type='WordNetDefinitions'))]
""")
    out = tmp_path / 'r.json'
    assert load_tool('ambiguity_report').main(
        ['--config', str(cfg), '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['contexts'] == dict(type='WordNetDefinitions')
    assert report['templates'] == 2
    assert len(report['pairs']) == 15  # top 20 capped at all pairs
    assert report['summary']['prompts_per_class_after'] == 2
