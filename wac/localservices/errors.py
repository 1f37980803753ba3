"""The one exception the local services raise."""

from __future__ import annotations

from wac.errors import WacError


class ServiceError(WacError):
    """A local service could not be started, stopped or set up.

    The message is a paragraph meant for a person; for start-up failures it ends with the
    last lines of the relevant log file.
    """
