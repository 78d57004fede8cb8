"""A stateful fake HubSpot portal behind ``responses`` callbacks (no network).

It reproduces the wire behaviour the connector depends on (api-facts.md H0–H8, G1–G5):

* every property value is a string (or ``null`` / absent for a property without a value —
  both forms are emitted); datetimes come back as ISO strings, ids as strings;
* object batch read/update take at most 100 inputs (400 past it); unknown ids give a 207;
* v4 association batch read takes at most 1,000 inputs (400 past it), pages *per result*
  (``paging.next.after``, re-sent as ``{id, after}``) and emits ``toObjectId`` as an integer;
* search: filterGroups (ORed groups of ANDed filters, 5/6/18 limits), EQ/NEQ/GT/GTE/LT/LTE/IN/
  NOT_IN/HAS_PROPERTY/NOT_HAS_PROPERTY/CONTAINS_TOKEN, one sort (object or ``"-prop"`` form),
  ``limit`` ≤ 200, numeric ``after``, and the 10,000-result cap (paging past it is a 400);
* notes and tasks create (201, ``hs_timestamp`` required, body ≤ 65,536) with associations
  whose HUBSPOT_DEFINED type id must fit the pair (note→company 190, task→company 192, …);
  task status / priority / type enumerations, ``hs_task_completion_date`` stamped on
  COMPLETED; the portal's owners (:meth:`FakeHubSpot.owner`): an unknown or deactivated
  ``hubspot_owner_id`` is a 400 ``INVALID_OWNER_ID``;
* object batch create / update: at most 100 inputs (400 past it), 201/200 or 207 with
  ``errors[]`` whose ``context.objectWriteTraceId`` names the failed inputs (unknown ids also
  in ``context.ids``); a repeated id in one batch update is a 400; ``results`` come back in
  no particular order (here: reversed); per-input failures are injectable
  (:meth:`FakeHubSpot.reject_in_batch`);
* company PATCH: unknown properties and unknown enumeration options are 400s;
* properties API with groups, 201 on create and 409 on duplicates;
* Bearer auth (401), scopes (403 with ``context.missingScopes``);
* **both path families** (api-facts.md "HubSpot date-based versions", section 3): the legacy
  ``/crm/v3/…`` + ``/crm/v4/…`` paths and their ``2026-09`` twins (``/crm/objects/2026-09/…``,
  ``/crm/associations/2026-09/…``, ``/crm/properties/2026-09/…``, ``/account-info/2026-09/…``);
  each call is logged with its ``version``.  Through ``2026-09`` the fake follows that version's
  contract: batch answers fold ``errors[]`` into a 200/201 (no 207); association batch archive
  answers 200 with a body (legacy: 204); every enumeration option created or updated must carry
  ``displayOrder`` (400 otherwise); the per-record association GET does not exist; and the
  portal's **validation rules** (:meth:`FakeHubSpot.add_validation_rule`) refuse writes with
  ``400 VALIDATION_ERROR`` — legacy paths ignore them, as HubSpot did before ``2026-09``;
* failure injection (status codes, 429 bodies/headers, exceptions before or after the server
  applied a write) and a call log.

The package is split by object family: ``common`` (wire constants), ``portal`` (state,
data building, call log, dispatch), ``faults`` (injection, validation rules, errors, scopes),
``objects`` (read/create/update and batches), ``engagements`` (notes, tasks, owners),
``search``, ``associations``, ``properties``, and ``helpers`` (virtual clock, connector on the
fake, populated portal).
"""

from __future__ import annotations

from .common import BASE, DBV, TOKEN, Injection, SimulatedCrash, ValidationRule, iso, legacy_twin
from .helpers import FakeClock, days, make_connector, populate, utc
from .portal import FakeHubSpot

__all__ = [
    "BASE",
    "DBV",
    "TOKEN",
    "FakeClock",
    "FakeHubSpot",
    "Injection",
    "SimulatedCrash",
    "ValidationRule",
    "days",
    "iso",
    "legacy_twin",
    "make_connector",
    "populate",
    "utc",
]
