"""Checkers for the book's coding exercises: ``accel_lib.exercises.<part>.check_<name>(fn)``.

Each checker runs a learner's function against the library's reference implementation on fresh
inputs and raises ``AssertionError`` with a hint when they disagree; it returns ``True`` otherwise.
"""
