"""mmpretrain's stock `tools/test.py`, unchanged.

Configs load the plugin with `custom_imports=dict(imports=['mmbeamclip'])`,
or `custom_imports=['mmbeamclip']` / `'mmbeamclip'`, which this wrapper
accepts too (mmbeamclip/utils/tool_config.py). It also spares you looking
up where pip put the stock tool, and filters two library warnings at import
(tools/library_warnings.py).
"""
import library_warnings  # noqa: F401  (before mmcv is imported)

from mmbeamclip.utils import run_stock_tool

if __name__ == '__main__':
    run_stock_tool('test.py')
