"""Errors of the teacher-target cache."""


class CacheMismatchError(ValueError):
    """The cache was built from another teacher, dataset or view recipe, or
    its files are not the ones the manifest records."""


class CacheMissError(LookupError):
    """A sample or view that the teacher-target cache does not hold."""
