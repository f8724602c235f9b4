import hashlib
import json
import os
import shutil

import pytest
import torch
import torch.nn.functional as F

from mmbeamclip.models.teachers import (IMAGENET_MEAN, IMAGENET_STD,
                                        OpenCLIPTeacher, identity,
                                        stage_open_clip)
from mmbeamclip.utils.local_dir import read_local_dir_config, write_local_dir


def checksum(module):
    return sum(p.double().sum().item() for p in module.parameters())


def test_refuses_random_weights_unless_asked(registered_tiny_model):
    with pytest.raises(ValueError, match='allow_random_init'):
        OpenCLIPTeacher(registered_tiny_model)
    teacher = OpenCLIPTeacher(registered_tiny_model, allow_random_init=True)
    assert teacher.embed_dim == 32
    assert '"random-init"' in teacher.teacher_id


def test_local_dir_round_trip(tiny_clip_dir):
    teacher = OpenCLIPTeacher('tiny', pretrained=f'local-dir:{tiny_clip_dir}')
    saved = torch.load(
        os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin'))
    state = teacher.model.state_dict()
    assert saved.keys() == state.keys()
    assert all(torch.equal(saved[k], state[k]) for k in saved)
    assert teacher.image_size == (32, 32)


def test_file_round_trip(tiny_clip_dir, registered_tiny_model):
    path = os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin')
    from_file = OpenCLIPTeacher(registered_tiny_model, pretrained=path)
    from_dir = OpenCLIPTeacher(
        registered_tiny_model, pretrained=f'local-dir:{tiny_clip_dir}')
    images = torch.randn(3, 3, 32, 32)
    assert torch.equal(
        from_file.encode_image(images), from_dir.encode_image(images))
    assert torch.equal(
        from_file.encode_text(['a', 'b c']),
        from_dir.encode_text(['a', 'b c']))
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    source = json.loads(from_file.teacher_id)['source']
    assert source == f'file:sha256:{digest}'


def test_stage_then_load_offline(tiny_clip_dir, registered_tiny_model,
                                 tmp_path):
    weights = os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin')
    out = str(tmp_path / 'staged')
    pretrained = stage_open_clip(registered_tiny_model, weights, out)
    assert pretrained == f'local-dir:{out}'
    staged = OpenCLIPTeacher('whatever-name', pretrained=pretrained)
    direct = OpenCLIPTeacher(registered_tiny_model, pretrained=weights)
    text = ['a photo of a cat.']
    assert torch.equal(staged.encode_text(text), direct.encode_text(text))
    with pytest.raises(FileExistsError):
        stage_open_clip(registered_tiny_model, weights, out)


def test_missing_or_mistyped_weights_give_clear_errors(
        registered_tiny_model, tmp_path):
    with pytest.raises(ValueError, match='neither an existing weight file'):
        OpenCLIPTeacher(
            registered_tiny_model, pretrained=str(tmp_path / 'nope.bin'))
    with pytest.raises(ValueError, match=r"known tags: \[.*'openai'"):
        OpenCLIPTeacher('ViT-B-32', pretrained='opnai')
    with pytest.raises(ValueError, match='Unknown open_clip model'):
        OpenCLIPTeacher('ViT-B-322', pretrained='openai')
    with pytest.raises(FileNotFoundError, match='stage_teacher.py'):
        OpenCLIPTeacher(
            'ViT-B-16', pretrained=f'local-dir:{tmp_path / "missing"}')


def test_known_tag_without_hub_names_the_offline_route():
    # HF_HUB_OFFLINE=1 (conftest): the download fails at once.
    with pytest.raises(RuntimeError) as e:
        OpenCLIPTeacher('RN50', pretrained='openai')
    message = str(e.value)
    assert "'RN50'" in message and 'openai' in message
    assert 'local-dir:' in message and 'stage_teacher.py' in message


def test_corrupt_weight_file_is_an_error(registered_tiny_model, tmp_path):
    bad = tmp_path / 'broken.bin'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='broken.bin.*corrupt'):
        OpenCLIPTeacher(registered_tiny_model, pretrained=str(bad))


def test_frozen_for_real(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg)
    assert not any(p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training and not teacher.model.training
    before = checksum(teacher)
    teacher.init_weights()
    assert checksum(teacher) == before
    assert teacher.state_dict() == {}
    with pytest.raises(ValueError, match='init_cfg'):
        OpenCLIPTeacher(**cfg, init_cfg=dict(type='Kaiming'))


def test_save_teacher_keeps_weights(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg, save_teacher=True)
    assert len(teacher.state_dict()) == len(teacher.model.state_dict())


def test_encode_text_batched_and_normalised(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg)
    prompts = [f'a photo of a thing number {i}.' for i in range(7)]
    full = teacher.encode_text(prompts, batch_size=100)
    assert full.shape == (7, 32) and full.dtype == torch.float32
    torch.testing.assert_close(full.norm(dim=-1), torch.ones(7))
    torch.testing.assert_close(
        teacher.encode_text(prompts, batch_size=3), full, atol=1e-5,
        rtol=1e-5)


def test_renormalises_and_resizes_student_input(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg)
    pixels = torch.rand(2, 3, 64, 64) * 255
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    clip_mean = torch.tensor(teacher.clip_mean).view(1, 3, 1, 1) * 255
    clip_std = torch.tensor(teacher.clip_std).view(1, 3, 1, 1) * 255
    got = teacher.preprocess((pixels - mean) / std)
    expected = F.interpolate((pixels - clip_mean) / clip_std, size=(32, 32),
                             mode='bicubic', antialias=True)
    assert got.shape == (2, 3, 32, 32)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    # Same-size input: only the affine renormalisation.
    small = torch.rand(2, 3, 32, 32) * 255
    teacher.set_input_normalization([0, 0, 0], [255, 255, 255])
    torch.testing.assert_close(
        teacher.preprocess(small / 255), (small - clip_mean) / clip_std,
        atol=1e-4, rtol=1e-4)
    emb = teacher(small / 255)
    assert emb.shape == (2, 32)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2))


def _finetuned_copy(src, dst, delta=1e-3):
    """A local-dir teacher whose last tensor differs slightly."""
    state = torch.load(os.path.join(src, 'open_clip_pytorch_model.bin'))
    last = list(state)[-1]
    state[last] = state[last] + delta
    config = read_local_dir_config(src)
    write_local_dir(dst, config['model_cfg'], state,
                    preprocess_cfg=config['preprocess_cfg'])
    return dst


def test_finetuned_teacher_of_same_shape_gets_another_id(
        tiny_clip_dir, registered_tiny_model, tmp_path):
    """The id hashes whole files: a change past the first 4 MiB counts."""
    tuned = _finetuned_copy(tiny_clip_dir, str(tmp_path / 'tuned'))
    name = 'open_clip_pytorch_model.bin'
    a, b = (open(os.path.join(d, name), 'rb').read()
            for d in (tiny_clip_dir, tuned))
    assert len(a) == len(b) > 1 << 22 and a[:1 << 22] == b[:1 << 22]
    assert a != b
    ids = [
        identity.open_clip_teacher_id('tiny', f'local-dir:{d}')
        for d in (tiny_clip_dir, tuned)
    ]
    assert ids[0] != ids[1]
    files = [
        identity.open_clip_teacher_id(registered_tiny_model,
                                      os.path.join(d, name))
        for d in (tiny_clip_dir, tuned)
    ]
    assert files[0] != files[1]


def test_weight_file_hashed_once_per_version(tmp_path, monkeypatch):
    path = tmp_path / 'w.bin'
    path.write_bytes(b'x' * 1000)
    calls = []
    digest = identity.sha256_file

    def counting(p):
        calls.append(p)
        return digest(p)

    monkeypatch.setattr(identity, 'sha256_file', counting)
    first = identity.file_sha256(str(path))
    assert identity.file_sha256(str(path)) == first
    assert len(calls) == 1
    assert first == hashlib.sha256(b'x' * 1000).hexdigest()
    path.write_bytes(b'y' * 1001)  # rewritten: new size and mtime
    assert identity.file_sha256(str(path)) == hashlib.sha256(
        b'y' * 1001).hexdigest()
    assert len(calls) == 2


def test_unknown_precision_is_refused(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    with pytest.raises(ValueError, match="'fp8'.*fp32, fp16, bf16"):
        OpenCLIPTeacher(**cfg, precision='fp8')
    with pytest.raises(ValueError, match="'fp8'"):
        identity.open_clip_teacher_id('tiny', cfg['pretrained'], 'fp8')


def test_zero_text_batch_size_is_refused(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    with pytest.raises(ValueError, match='text_batch_size=0'):
        OpenCLIPTeacher(**cfg, text_batch_size=0)
    teacher = OpenCLIPTeacher(**cfg)
    with pytest.raises(ValueError, match='batch_size=0'):
        teacher.encode_text(['a'], batch_size=0)


def test_other_architecture_weights_name_the_file(tiny_clip_dir):
    path = os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin')
    with pytest.raises(ValueError, match='do not fit') as e:
        OpenCLIPTeacher('RN50', pretrained=path)
    assert path in str(e.value) and "'RN50'" in str(e.value)


def test_garbage_local_dir_files_name_the_file(tiny_clip_dir, tmp_path):
    garbage = str(tmp_path / 'garbage')
    shutil.copytree(tiny_clip_dir, garbage)
    weights = os.path.join(garbage, 'open_clip_pytorch_model.bin')
    with open(weights, 'wb') as f:
        f.write(b'\xff\xfe garbage' * 10)
    with pytest.raises(ValueError, match='corrupt') as e:
        OpenCLIPTeacher('tiny', pretrained=f'local-dir:{garbage}')
    assert weights in str(e.value)
    bad_cfg = str(tmp_path / 'bad_cfg')
    shutil.copytree(tiny_clip_dir, bad_cfg)
    with open(os.path.join(bad_cfg, 'open_clip_config.json'), 'wb') as f:
        f.write(b'\xff\xfe{')
    with pytest.raises(ValueError, match='open_clip_config.json'):
        OpenCLIPTeacher('tiny', pretrained=f'local-dir:{bad_cfg}')


def test_text_only_teacher_has_no_image_tower(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    full = OpenCLIPTeacher(**cfg)
    text = OpenCLIPTeacher(**cfg, text_only=True)
    assert text.model.visual is None
    assert not any(k.startswith('visual.')
                   for k in text.model.state_dict())
    assert text.teacher_id == full.teacher_id
    assert text.embed_dim == full.embed_dim
    prompts = ['a photo of a dog.', 'a photo of a cat.']
    assert torch.equal(text.encode_text(prompts), full.encode_text(prompts))
    with pytest.raises(RuntimeError, match='text_only'):
        text.encode_image(torch.zeros(1, 3, 32, 32))


def test_staging_checks_the_folder_before_downloading(
        registered_tiny_model, tmp_path, monkeypatch):
    import open_clip
    calls = []
    monkeypatch.setattr(open_clip, 'create_model',
                        lambda *a, **k: calls.append(a))
    if os.geteuid() == 0:
        # root writes through permission bits; sysfs refuses even root.
        read_only = '/sys'
    else:
        read_only = str(tmp_path / 'ro')
        os.makedirs(read_only)
        os.chmod(read_only, 0o555)
    with pytest.raises(PermissionError, match='not writable') as e:
        stage_open_clip(registered_tiny_model, 'openai',
                        os.path.join(read_only, 'mmbeamclip-staged', 'x'))
    assert read_only in str(e.value)
    assert calls == []


def test_staged_teacher_honours_the_umask(tiny_clip_dir,
                                          registered_tiny_model, tmp_path):
    weights = os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin')
    old = os.umask(0o022)
    try:
        stage_open_clip(registered_tiny_model, weights,
                        str(tmp_path / 'staged'))
    finally:
        os.umask(old)
    folder = tmp_path / 'staged'
    assert os.stat(folder).st_mode & 0o777 == 0o755
    for name in os.listdir(folder):
        assert os.stat(folder / name).st_mode & 0o777 == 0o644, name


def test_staging_keeps_the_hugging_face_tokenizer(tmp_path, monkeypatch):
    """A SigLIP-style model's HF tokenizer travels into the staged folder:
    the folder loads and tokenizes the same once the source is gone."""
    from open_clip import factory
    from open_clip.model import CustomTextCLIP
    from teacher_families import save_sentencepiece_like_tokenizer
    tok_dir = str(tmp_path / 'tokenizer')
    vocab_size = save_sentencepiece_like_tokenizer(tok_dir)
    cfg = dict(
        embed_dim=32,
        init_logit_bias=-10,
        custom_text=True,
        vision_cfg=dict(
            image_size=32, layers=1, width=32, patch_size=8, head_width=16),
        text_cfg=dict(
            context_length=16,
            vocab_size=vocab_size,
            hf_tokenizer_name=tok_dir,
            width=32,
            heads=2,
            layers=1,
            no_causal_mask=True,
            pool_type='last'))
    monkeypatch.setattr(factory, '_MODEL_CONFIGS',
                        dict(factory._MODEL_CONFIGS))
    monkeypatch.setattr(factory, '_MODEL_CONFIG_PATHS',
                        list(factory._MODEL_CONFIG_PATHS))
    configs = tmp_path / 'configs'
    configs.mkdir()
    (configs / 'tiny-staged-siglip.json').write_text(json.dumps(cfg))
    factory.add_model_config(configs)
    torch.manual_seed(0)
    model = CustomTextCLIP(
        **{k: v for k, v in cfg.items() if k != 'custom_text'})
    weights = str(tmp_path / 'weights.bin')
    torch.save(model.state_dict(), weights)
    direct = OpenCLIPTeacher('tiny-staged-siglip', pretrained=weights)
    text = ['a photo of a cat.', 'a dog']
    expected = direct.encode_text(text)

    out = str(tmp_path / 'staged')
    stage_open_clip('tiny-staged-siglip', weights, out)
    assert os.path.isfile(os.path.join(out, 'tokenizer.json'))
    shutil.rmtree(tok_dir)
    staged = OpenCLIPTeacher('whatever', pretrained=f'local-dir:{out}')
    assert torch.equal(staged.encode_text(text), expected)
