from .fileio import (WriteError, atomic_dir, atomic_torch_save, atomic_write,
                     atomic_write_text, cache_root, check_not_input,
                     loads_json, read_json, sha256_file)
from .local_dir import LOCAL_DIR_PREFIX, read_local_dir_config, write_local_dir
from .stock_tools import run_stock_tool, stock_tool_path
from .student_extraction import extract_student
from .tool_config import (accept_short_custom_imports, load_tool_config,
                          normalize_custom_imports)

__all__ = [
    'accept_short_custom_imports', 'atomic_dir', 'atomic_torch_save',
    'atomic_write', 'atomic_write_text', 'cache_root', 'check_not_input',
    'extract_student', 'load_tool_config', 'loads_json', 'WriteError',
    'LOCAL_DIR_PREFIX', 'normalize_custom_imports', 'read_json',
    'read_local_dir_config',
    'run_stock_tool', 'sha256_file', 'stock_tool_path', 'write_local_dir'
]
