"""Argparse ``type=`` functions that refuse out-of-range flag values.

``parser.add_argument('--batch-size', type=positive_int)`` makes argparse
exit with code 2 and ``argument --batch-size: must be an int >= 1, got 0``
instead of a tool that runs (or crashes deep inside a library) with a
meaningless value. The ranges are those of :func:`check_range`.
"""
import argparse
from typing import Callable, Optional

from .ranges import Number, check_range, describe_range


def ranged(parse: Callable[[str], Number],
           low: Optional[Number] = None,
           high: Optional[Number] = None,
           low_open: bool = False,
           high_open: bool = False) -> Callable[[str], Number]:
    """An argparse type: ``parse`` the text, then check the range.

    Args:
        parse (callable): ``int`` or ``float``.
        low, high, low_open, high_open: See :func:`check_range`.

    Returns:
        callable: Text to number, raising ``argparse.ArgumentTypeError``
        (reported by argparse with the flag's name) when it is not one.
    """
    kind = 'an int' if parse is int else 'a number'
    wanted = f'{kind} {describe_range(low, high, low_open, high_open)}'

    def convert(text: str) -> Number:
        try:
            value = parse(text)
            return check_range(
                'value',
                value,
                low,
                high,
                low_open=low_open,
                high_open=high_open,
                integer=parse is int)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f'must be {wanted}, got {text!r}') from None

    convert.__name__ = f'{parse.__name__} {describe_range(low, high)}'
    return convert


positive_int = ranged(int, 1)
non_negative_int = ranged(int, 0)
positive_float = ranged(float, 0, low_open=True)
non_negative_float = ranged(float, 0)
probability = ranged(float, 0, 1)
