"""Errors a user can act on. The CLI prints them as one line, with no traceback."""


class UserError(Exception):
    """A mistake in the user's input (config, paths, data, device): one actionable line."""

    exit_code = 2
