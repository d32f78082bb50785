"""Refusals the domain reports back to the edge, naming the field at fault
so that the edge can point at file, line and column."""


class Refused(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class SamePersonRefused(Refused):
    """Four eyes: the person who proposed something may not approve it."""
