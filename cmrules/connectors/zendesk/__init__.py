"""Zendesk Support connector: organisations, their users, tickets and ticket metrics.

Writes one ``PUT /api/v2/organizations/{id}`` per changed organisation: Zendesk replaces
``notes`` and ``tags`` wholesale, so the connector re-reads the organisation, replaces only the
text between its markers and only the ``cmrules_`` tags, and writes the merged values.
The package is laid out like a Singer tap; :mod:`.connector` lists its modules.
"""

from .blocks import flag_tags, merge_notes, merge_tags, read_block, render_block
from .client import ZendeskClient
from .connector import ZendeskConnector

__all__ = [
    "ZendeskClient",
    "ZendeskConnector",
    "flag_tags",
    "merge_notes",
    "merge_tags",
    "read_block",
    "render_block",
]
