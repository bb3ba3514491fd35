"""The one exception every ``qcn`` command raises for a user-facing failure.

Its own module, imported by the command modules and by ``qcn.cli`` (which
prints it), so that no command module imports the command line back.
"""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""
