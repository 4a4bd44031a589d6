"""Error base classes; each says whether retrying the same operation can succeed."""

from __future__ import annotations


class PasokhError(Exception):
    """Base of Pasokh's own errors."""

    retriable: bool = False


class InvalidEvent(PasokhError):
    """A message that can never be processed (bad envelope or payload): dead-letter it."""

    retriable = False


class DependencyUnavailable(PasokhError):
    """Kafka, MongoDB or a provider did not answer; the same call may succeed later."""

    retriable = True


class NotFound(PasokhError):
    """The thing asked for does not exist."""

    retriable = False
