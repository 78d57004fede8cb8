"""HubSpot CRM connector (CRM v3 objects, v4 associations, private-app token).

Reads vendors (companies selected by a property filter, default ``type = VENDOR``), their client
companies (company↔company associations, optionally through deals), contacts with roles, and
activities (meetings; emails, calls and notes when configured) into the canonical model, using
batch endpoints at their limits.  Writes findings back as one note per changed record
(association 190) and ``cmrules_*`` company properties, 100 records per batch.

The package is laid out like a Singer tap; :mod:`.connector` lists its modules.
See ``docs/hubspot.md`` for configuration, scopes and the crash-safety design.
"""

from .client import HubSpotClient, missing_scopes
from .common import NOTE_BODY_LIMIT
from .connector import HubSpotConnector

__all__ = ["NOTE_BODY_LIMIT", "HubSpotClient", "HubSpotConnector", "missing_scopes"]
