"""mmpretrain's stock `tools/train.py`, unchanged.

Configs load the plugin with `custom_imports=dict(imports=['mmbeamclip'])`;
this file only saves you from looking up where pip put the stock tool.
"""
from mmbeamclip.utils import run_stock_tool

if __name__ == '__main__':
    run_stock_tool('train.py')
