"""A config stored in a checkpoint, read as data and never executed.

mmengine saves the training config in ``meta['cfg']`` as Python text
(``Config.pretty_text``); ``Config.fromstring(text, '.py')`` would execute
it, so a crafted checkpoint could run any command. The text mmengine writes
is a list of ``name = value`` lines whose values are literals and
``dict(key=value)`` / ``dict({'a.b': value})`` calls, so it is parsed with
:mod:`ast` and only those are accepted; anything else (a call, a name, an
import, an attribute) is refused without running anything.
"""
import ast
from typing import Any, Optional

from mmengine.config import Config

# Containers whose elements are read one by one.
_SEQUENCES = {ast.List: list, ast.Tuple: tuple, ast.Set: set}


class _NotData(Exception):
    """A node of the stored config that is not a literal."""

    def __init__(self, node: ast.AST):
        self.node = node
        super().__init__()


def _describe(node: ast.AST) -> str:
    text = ast.unparse(node) if hasattr(ast, 'unparse') else ''
    text = text if len(text) <= 60 else text[:57] + '...'
    return f'line {getattr(node, "lineno", "?")}: {text!r}'


def _literal(node: ast.AST) -> Any:
    """The value of a literal node, or raise :class:`_NotData`."""
    if isinstance(node, ast.Constant):
        return node.value
    if type(node) in _SEQUENCES:
        return _SEQUENCES[type(node)](_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # ``{**other}``
            raise _NotData(node)
        return {
            _literal(k): _literal(v)
            for k, v in zip(node.keys, node.values)
        }
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and len(node.args) <= 1
            and all(k.arg is not None for k in node.keywords)):
        # mmengine writes ``dict({'a.b': 1})`` for keys that are not names.
        value = _literal(node.args[0]) if node.args else {}
        if not isinstance(value, dict):
            raise _NotData(node)
        value.update((k.arg, _literal(k.value)) for k in node.keywords)
        return value
    if (isinstance(node, ast.UnaryOp)
            and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float, complex))
            and not isinstance(node.operand.value, bool)):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    raise _NotData(node)


def _assignments(tree: ast.Module) -> dict:
    values = {}
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and all(
                isinstance(t, ast.Name) for t in stmt.targets)):
            raise _NotData(stmt)
        value = _literal(stmt.value)
        for target in stmt.targets:
            values[target.id] = value
    return values


def parse_stored_config(text: Any, source: str) -> Optional[Config]:
    """The config a checkpoint stores, read without executing it.

    Args:
        text (str | dict | None): ``meta['cfg']`` of a checkpoint: the text
            mmengine saves (``Config.pretty_text``), or a plain dict.
        source (str): The checkpoint, named in errors.

    Returns:
        Config | None: The config, None when ``text`` is empty.

    Raises:
        ValueError: ``text`` holds anything but ``name = literal`` lines
            (literals, lists, tuples, sets, dicts, ``dict(k=v)``, negative
            numbers), e.g. a call that would run a command. One line naming
            the checkpoint, what was found and ``--config``.
    """
    if not text:
        return None
    hint = ('it is never executed; pass the training config with '
            '--config CONFIG')
    if isinstance(text, dict):
        return Config(text)
    if not isinstance(text, str):
        raise ValueError(
            f'{source}: the stored config meta["cfg"] is a '
            f'{type(text).__name__}, not config text; {hint}')
    try:
        values = _assignments(ast.parse(text, mode='exec'))
    except _NotData as exc:
        raise ValueError(
            f'{source}: the stored config meta["cfg"] is not plain data '
            f'({_describe(exc.node)}), so it is refused: {hint}') from None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        # ast.parse of a crafted, deeply nested text: RecursionError.
        reason = type(exc).__name__ + (
            f': {exc.msg}' if isinstance(exc, SyntaxError) else '')
        raise ValueError(
            f'{source}: the stored config meta["cfg"] is not a readable '
            f'config ({reason}); {hint}') from None
    return Config(values)
