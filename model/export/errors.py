"""Errors raised by the exporter: each one says what is wrong and what to do."""


class ExportError(Exception):
    """The checkpoint or the request cannot be exported; the message is for the user."""
