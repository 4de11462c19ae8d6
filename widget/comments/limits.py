"""What a comment's fields may hold, and the error that names the fields that break it."""

from __future__ import annotations

import re

from ..models import COMMENT_BODY_MAX, COMMENT_BODY_MIN, COMMENT_LIMITS

# The limits live with the columns they size (models.py); the form and the API's schema read them too.
LIMITS = COMMENT_LIMITS
BODY_MIN, BODY_MAX = COMMENT_BODY_MIN, COMMENT_BODY_MAX
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Half of a UTF-16 pair: JSON can carry one ("\ud800"), but it is not text and cannot be stored.
SURROGATE = re.compile(r"[\ud800-\udfff]")


class InvalidComment(Exception):
    """Input a comment cannot have; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class DuplicateComment(InvalidComment):
    """The same person already said exactly this on this page."""
