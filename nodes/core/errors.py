"""The one error type for bad user input, so every message names the input, the value and the fix."""

from __future__ import annotations


class HiResInputError(ValueError):
    """A user input the pack cannot work with; raised before any model work."""

    def __init__(self, name: str, value: object, problem: str, fix: str) -> None:
        self.input_name = name
        self.value = value
        super().__init__(f"{name}={value!r}: {problem}. Fix: {fix}.")
