"""tools/extract_student.py: safe loading, never over its input, export."""
import importlib.util
import os
import os.path as osp
import sys

import pytest
import torch
from conftest import tool_env, write_image_folder
from mmengine.config import Config
from mmpretrain.registry import MODELS
from tool_loader import load_tool
from tool_process import run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
LINEAR_CONFIG = osp.join(
    ROOT,
    'configs/beamclip/benchmarks/resnet18_8xb512-linear-coslr-90e_in1k.py')
TOOL = osp.join(ROOT, 'tools', 'extract_student.py')


def run(args, env, ok=True):
    proc = run_tool([sys.executable, TOOL] + args, cwd=ROOT, env=env,
                    timeout=300)
    log = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == ok, log[-3000:]
    if not ok:  # one clear line, not a traceback
        assert 'Traceback' not in log, log[-3000:]
    return log


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    return tool_env(tmp_path_factory)


@pytest.fixture(scope='module')
def checkpoint(env, tiny_clip_dir, tmp_path_factory):
    """One epoch of the stock tools/train.py on generated images."""
    tmp = tmp_path_factory.mktemp('extract')
    proc = run_tool([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp / 'work'), '--cfg-options',
        'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'train_dataloader.batch_size=8',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=10'
    ],
                    cwd=ROOT,
                    env=dict(
                        env, DATA_ROOT=write_image_folder(tmp / 'images')),
                    timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return str(tmp / 'work' / 'epoch_1.pth')


def reference_backbone(ckpt):
    """The student as the stock linear probe loads it (Pretrained init)."""
    cfg = Config.fromfile(LINEAR_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    backbone = MODELS.build(cfg.model).backbone
    backbone.init_weights()
    backbone.eval()
    return backbone


def test_refuses_to_overwrite_its_input(checkpoint, env):
    before = open(checkpoint, 'rb').read()
    log = run([checkpoint, checkpoint], env, ok=False)
    assert 'is the input checkpoint' in log
    assert open(checkpoint, 'rb').read() == before


@pytest.mark.parametrize('link', ['symlink', 'hardlink', 'other-path'])
def test_refuses_the_input_under_another_name(checkpoint, tmp_path, link):
    out = tmp_path / 'student.pth'
    if link == 'symlink':
        out.symlink_to(checkpoint)
    elif link == 'hardlink':
        os.link(checkpoint, out)
    else:  # the same file, spelled with ../
        d = osp.dirname(checkpoint)
        out = osp.join(d, '..', osp.basename(d), osp.basename(checkpoint))
    size = osp.getsize(checkpoint)
    with pytest.raises(ValueError, match='is the input checkpoint'):
        load_tool('extract_student').main([checkpoint, str(out)])
    assert osp.getsize(checkpoint) == size


def test_crafted_pickle_is_refused(env, tmp_path):

    class RunsCommand:

        def __reduce__(self):
            return os.system, (f'touch {tmp_path}/MARKER', )

    evil = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'backbone.w': RunsCommand()}}, evil)
    log = run([evil, str(tmp_path / 'out.pth')], env, ok=False)
    assert f'Refused to load {evil}' in log
    assert not (tmp_path / 'MARKER').exists()
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('bad', ['text', 'no-backbone'])
def test_non_checkpoint_input(tmp_path, bad):
    path = tmp_path / 'in.pth'
    if bad == 'text':
        path.write_text('not a checkpoint\n')
        words = 'not a torch checkpoint'
    else:
        torch.save({'state_dict': {'head.fc.weight': torch.zeros(2)}},
                   str(path))
        words = 'no "backbone." weights'
    with pytest.raises(ValueError, match=words) as info:
        load_tool('extract_student').main(
            [str(path), str(tmp_path / 'out.pth')])
    assert str(path) in str(info.value)
    assert not (tmp_path / 'out.pth').exists()


def test_torchscript_matches_mmpretrain_backbone(checkpoint, env, tmp_path):
    out = str(tmp_path / 'student.pt')
    run([checkpoint, out, '--format', 'torchscript', '--input-size', '64'],
        env)
    exported = torch.jit.load(out)
    reference = reference_backbone(checkpoint)
    # another batch size and image size than the traced example
    x = torch.randn(3, 3, 96, 96)
    with torch.no_grad():
        got, want = exported(x), reference(x)
    assert len(got) == len(want) == 1
    torch.testing.assert_close(got[0], want[0])
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]


def test_onnx_matches_mmpretrain_backbone(checkpoint, env, tmp_path):
    out = str(tmp_path / 'student.onnx')
    args = [checkpoint, out, '--format', 'onnx', '--input-size', '64']
    missing = [
        m for m in ('onnx', 'onnxscript')
        if importlib.util.find_spec(m) is None
    ]
    if missing:  # the export extra is absent: a clear error, no file
        log = run(args, env, ok=False)
        assert all(m in log for m in missing) and 'pip install' in log
        assert not osp.exists(out)
        return
    run(args, env)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        want = reference_backbone(checkpoint)(x)[0].numpy()
    if importlib.util.find_spec('onnxruntime') is not None:
        import onnxruntime
        session = onnxruntime.InferenceSession(out)
        got = session.run(None, {'images': x.numpy()})[0]
    else:
        from onnx.reference import ReferenceEvaluator
        got = ReferenceEvaluator(out).run(None, {'images': x.numpy()})[0]
    torch.testing.assert_close(
        torch.from_numpy(got), torch.from_numpy(want), rtol=1e-4, atol=1e-4)
