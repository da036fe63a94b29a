"""The one error type for bad user input: it carries the input at fault, its value, the problem and the fix as
fields, and builds its message from them, so no caller ever needs to read the message back."""

from __future__ import annotations


class HiResInputError(ValueError):
    """A user input the pack cannot work with; raised before any model work.

    `field` names the input (a node input, or a request field such as `background.color`), `value` is what was
    given, `problem` says what is wrong with it and `fix` what to give instead. Each API formats its own body
    from these attributes; the message is `field=value: problem. Fix: fix.`
    """

    def __init__(self, field: str, value: object, problem: str, fix: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}={short_repr(value)}: {problem}. Fix: {fix}.")

    @property
    def input_name(self) -> str:
        """The node input at fault: ComfyUI's name for `field` (its validation errors carry `input_name`)."""
        return self.field


SHORT_REPR_CHARS = 80
"""A value quoted back in a message is cut to this many characters (a REST request can send megabytes)."""


def short_repr(value: object) -> str:
    """repr() of a given value, cut short; a value nested too deeply to print is said so, never raised."""
    try:
        text = repr(value)
    except RecursionError:
        return f"<a {type(value).__name__} nested too deeply to print>"
    return text if len(text) <= SHORT_REPR_CHARS else text[:SHORT_REPR_CHARS - 3] + "..."
