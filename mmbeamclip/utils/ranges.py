"""Refuse parameters outside their meaningful range, naming them.

A negative temperature inverts a ranking, a zero one makes scores NaN, a
size of 0 trains nothing: such values must fail when the component (or the
tool's arguments) are built, with one line that names the parameter, the
range and the value, not with rc 0 or a traceback from deep inside a
library. Components call :func:`check_range`; tools get the argparse types
of :mod:`mmbeamclip.utils.arg_types`, built on the same check.
"""
import math
import numbers
from typing import Optional, Sequence, Union

Number = Union[int, float]


def describe_range(low: Optional[Number] = None,
                   high: Optional[Number] = None,
                   low_open: bool = False,
                   high_open: bool = False) -> str:
    """The range in words, e.g. ``'> 0'``, ``'>= 1'``, ``'in [0, 1]'``."""
    if low is not None and high is not None:
        return (f'in {"(" if low_open else "["}{low}, {high}'
                f'{")" if high_open else "]"}')
    if low is not None:
        return f'{">" if low_open else ">="} {low}'
    if high is not None:
        return f'{"<" if high_open else "<="} {high}'
    return 'a finite number'


def check_range(name: str,
                value,
                low: Optional[Number] = None,
                high: Optional[Number] = None,
                *,
                low_open: bool = False,
                high_open: bool = False,
                integer: bool = False,
                owner: str = '') -> Number:
    """Return ``value`` if it is a finite number in the range, else raise.

    Args:
        name (str): The parameter's name, as the user writes it.
        value: The value given.
        low (int | float, optional): The lower bound. Defaults to None.
        high (int | float, optional): The upper bound. Defaults to None.
        low_open (bool): Exclude ``low`` itself. Defaults to False.
        high_open (bool): Exclude ``high`` itself. Defaults to False.
        integer (bool): Require an int. Defaults to False.
        owner (str): The component, prefixed to the message.

    Returns:
        int | float: ``value``.

    Raises:
        TypeError: ``value`` is not a (real, integer) number.
        ValueError: ``value`` is not finite or out of the range.
    """
    prefix = f'{owner}: ' if owner else ''
    kind = 'an int' if integer else 'a number'
    wanted = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise TypeError(f'{prefix}{name} must be {kind} '
                        f'{describe_range(low, high, low_open, high_open)}, '
                        f'got {value!r}')
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise ValueError(f'{prefix}{name} must be '
                         f'{describe_range(low, high, low_open, high_open)},'
                         f' got {value!r}')
    return value


def check_interval(name: str,
                   value: Sequence[Number],
                   low: Number = 0,
                   high: Optional[Number] = None,
                   owner: str = '') -> tuple:
    """Check a ``(min, max)`` pair with ``low < min <= max (<= high)``."""
    prefix = f'{owner}: ' if owner else ''
    pair = tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(pair) != 2:
        raise ValueError(f'{prefix}{name} must be a (min, max) pair, got '
                         f'{value!r}')
    for v in pair:
        check_range(name, v, low, high, low_open=True, owner=owner)
    if pair[0] > pair[1]:
        raise ValueError(f'{prefix}{name} must be (min, max) with min <= '
                         f'max, got {value!r}')
    return pair
