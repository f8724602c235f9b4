"""One row of the bad-input catalogue (``test_bad_inputs.py``).

Each area keeps its rows in ``cases_<area>.py`` as a list ``CASES``. A row
names the bad input, what the user gets (an error or a warning of a given
class whose message contains given words) and the category it had on the
day it was catalogued, so ``docs/reliability.md`` can list what changed.
"""
from dataclasses import dataclass, field
from typing import Callable, Sequence, Tuple, Type, Union

# What a user got before the reliability pass (issue #10's tally).
CATEGORIES = (
    'clear-error',  # already a clear error; kept as a regression test
    'handled',  # already handled (e.g. rebuilt with a warning)
    'traceback',  # was a confusing traceback, now a clear error
    'silent',  # was a silently wrong result, now an error or warning
    'data-loss',  # lost data, now refused or written atomically
    'security',  # ran untrusted code, now refused
)


@dataclass
class Case:
    """A bad input and the clear reaction it must get.

    Args:
        id (str): Short unique name, listed in docs/reliability.md.
        category (str): One of :data:`CATEGORIES`.
        run (Callable): ``run(ctx)`` feeds the bad input; ``ctx`` has
            ``tmp_path`` (a fresh folder) and ``tiny_teacher_cfg`` (an
            ``OpenCLIPTeacher`` config of a tiny random local-dir model).
        expect (type | tuple[type]): The exception class(es) raised, or a
            ``Warning`` subclass that must be warned.
        words (Sequence[str]): Words the message must contain
            (case-insensitive), e.g. the file or value at fault.
        what (str): One line for docs/reliability.md: the input and the
            guarantee.
    """
    id: str
    category: str
    run: Callable
    expect: Union[Type[BaseException], Tuple[Type[BaseException], ...]]
    words: Sequence[str] = field(default_factory=tuple)
    what: str = ''

    def __post_init__(self):
        assert self.category in CATEGORIES, self.category
        assert self.what, f'case {self.id} needs a one-line `what`'
