"""Identity of inputs under a reader, hangs, and silently skipped data
(issue 19): the guarantees behind ``cases_identity.py``, plus one run of
the user path per class through the stock tools."""
import json
import os
import os.path as osp
import shutil
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import write_image_folder
from mmpretrain.models import MobileNetV2
from tool_process import run_tool

from mmbeamclip.models.teachers import OpenCLIPTeacher, open_clip_teacher_id
from mmbeamclip.utils.local_dir import loaded_files

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')


@pytest.mark.timeout(30)
def test_teacher_folder_reads_only_what_the_teacher_loads(
        tiny_clip_dir, tmp_path):
    folder = shutil.copytree(tiny_clip_dir, str(tmp_path / 'model'))
    reference = open_clip_teacher_id('tiny', f'local-dir:{folder}')
    # Neither read nor hashed: files open_clip never loads, even a FIFO.
    os.symlink('/dev/zero', osp.join(folder, 'notes'))
    os.mkfifo(osp.join(folder, 'pipe'))
    assert open_clip_teacher_id('tiny', f'local-dir:{folder}') == reference
    assert 'notes' not in loaded_files(folder)
    # A file the tokenizer would load, as a FIFO: refused, not a hang.
    os.mkfifo(osp.join(folder, 'tokenizer.json'))
    with pytest.raises(ValueError,
                       match='tokenizer.json.*a FIFO, not a regular'):
        open_clip_teacher_id('tiny', f'local-dir:{folder}')


def _with_interpolation(tiny_clip_dir, folder, interpolation):
    folder = shutil.copytree(tiny_clip_dir, folder)
    path = osp.join(folder, 'open_clip_config.json')
    with open(path) as f:
        config = json.load(f)
    config['preprocess_cfg']['interpolation'] = interpolation
    with open(path, 'w') as f:
        json.dump(config, f)
    return folder


def test_teacher_resizes_as_its_model_says(tiny_clip_dir, tmp_path):
    folder = _with_interpolation(tiny_clip_dir, str(tmp_path / 'bilinear'),
                                 'bilinear')
    bilinear = OpenCLIPTeacher('tiny', pretrained=f'local-dir:{folder}')
    bicubic = OpenCLIPTeacher('tiny', pretrained=f'local-dir:{tiny_clip_dir}')
    assert (bilinear.interpolation, bicubic.interpolation) == ('bilinear',
                                                               'bicubic')
    x = torch.randn(2, 3, 40, 40)
    size = bilinear.image_size
    for teacher, mode in ((bilinear, 'bilinear'), (bicubic, 'bicubic')):
        normalised = x * teacher._scale + teacher._shift
        expected = F.interpolate(
            normalised, size=size, mode=mode, align_corners=False,
            antialias=40 > size[-1])
        torch.testing.assert_close(teacher.preprocess(x), expected)
    assert not torch.allclose(bilinear.preprocess(x), bicubic.preprocess(x))


def _env(tmp_path):
    return dict(
        os.environ,
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path / 'cache'),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))


def _one_line_error(proc, *words):
    assert proc.returncode != 0, proc.stdout[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    for word in words:
        assert word in last, proc.stdout[-3000:]


def test_torchvision_export_refused_through_the_tool(tmp_path):
    state = {f'backbone.{k}': v for k, v in MobileNetV2().state_dict().items()}
    ckpt = str(tmp_path / 'mnv2.pth')
    torch.save(dict(state_dict=state, meta={}), ckpt)
    out = tmp_path / 'out.pth'
    proc = run_tool([
        sys.executable, 'tools/extract_student.py', ckpt,
        str(out), '--torchvision'
    ],
                    env=_env(tmp_path),
                    cwd=ROOT,
                    timeout=300)
    _one_line_error(proc, 'mnv2.pth', '--torchvision')
    assert not out.exists()


def test_too_few_images_refused_before_training(tiny_clip_dir, tmp_path):
    data = write_image_folder(tmp_path / 'images', n_train=1, n_val=1)
    # Skipped silently by mmpretrain's folder dataset before.
    shutil.copy(
        osp.join(data, 'train', 'n01440764', '0.JPEG'),
        osp.join(data, 'train', 'n01440764', 'extra.webp'))
    work = tmp_path / 'work'
    proc = run_tool([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(work), '--cfg-options', 'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0'
    ],
                    env=dict(_env(tmp_path), DATA_ROOT=data),
                    cwd=ROOT,
                    timeout=300)
    _one_line_error(proc, '2 samples', 'batch_size=4', 'drop_last')
    assert '1 .webp' in proc.stdout
    assert not list(work.glob('*.pth'))
