"""custom_imports as a list or a string, through the tools' Config.fromfile.
"""
import pytest
from mmengine.config import Config

from mmbeamclip.utils import (accept_short_custom_imports,
                              normalize_custom_imports)


def test_normalize_custom_imports():
    assert normalize_custom_imports('mmbeamclip') == dict(
        imports=['mmbeamclip'])
    assert normalize_custom_imports(['a', 'b']) == dict(imports=['a', 'b'])
    full = dict(imports=['a'], allow_failed_imports=True)
    assert normalize_custom_imports(full) == full
    with pytest.raises(TypeError, match='imports'):
        normalize_custom_imports(dict(modules=['a']))
    with pytest.raises(TypeError, match='module name'):
        normalize_custom_imports([1])


@pytest.mark.parametrize('imports', [['json', 'csv'], 'json'])
def test_fromfile_accepts_short_forms(tmp_path, monkeypatch, imports):
    # mmengine's own fromfile, also when a test before this one (in this
    # process) applied the patch, which keeps it as __wrapped__.
    current = Config.__dict__['fromfile'].__func__
    monkeypatch.setattr(Config, 'fromfile',
                        staticmethod(getattr(current, '__wrapped__', current)))
    path = tmp_path / 'cfg.py'
    path.write_text(f'custom_imports = {imports!r}\nx = 1\n')
    with pytest.raises(TypeError, match='mapping'):
        Config.fromfile(str(path))  # mmengine alone
    accept_short_custom_imports()
    accept_short_custom_imports()  # idempotent
    cfg = Config.fromfile(str(path))
    expected = [imports] if isinstance(imports, str) else imports
    assert cfg.custom_imports == dict(imports=expected) and cfg.x == 1
    # Failing imports still fail, and import_custom_modules=False is kept.
    path.write_text("custom_imports = ['no_such_module_here']\n")
    with pytest.raises(ImportError, match='no_such_module_here'):
        Config.fromfile(str(path))
    Config.fromfile(str(path), import_custom_modules=False)
