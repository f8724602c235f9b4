from .checkpoint import atomic_torch_save, extract_student
from .stock_tools import run_stock_tool, stock_tool_path

__all__ = [
    'atomic_torch_save', 'extract_student', 'run_stock_tool', 'stock_tool_path'
]
