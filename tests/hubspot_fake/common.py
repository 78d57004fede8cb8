"""Wire constants and small shared types of the fake HubSpot portal."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BASE = "https://api.hubapi.com"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"

DBV = "2026-09"  # the date-based version the fake serves besides v3/v4
_DBV_ROUTES = [  # (2026-09 path, its legacy twin)
    (
        re.compile(r"/crm/objects/(\d{4}-\d{2})/(\w+)/(\d+)/associations/(.+)"),
        r"/crm/v4/objects/\2/\3/associations/\4",
    ),
    (re.compile(r"/crm/objects/(\d{4}-\d{2})/(.+)"), r"/crm/v3/objects/\2"),
    (re.compile(r"/crm/associations/(\d{4}-\d{2})/(.+)"), r"/crm/v4/associations/\2"),
    (re.compile(r"/crm/properties/(\d{4}-\d{2})/(.+)"), r"/crm/v3/properties/\2"),
    (re.compile(r"/account-info/(\d{4}-\d{2})/(.+)"), r"/account-info/v3/\2"),
]


def legacy_twin(path: str) -> tuple[str, str | None]:
    """(legacy path, version) — ``version`` is None for a legacy path, else its ``YYYY-MM``."""
    for pattern, twin in _DBV_ROUTES:
        m = pattern.fullmatch(path)
        if m:
            return pattern.sub(twin, path), m.group(1)
    return path, None


SINGULAR = {
    "companies": "COMPANY",
    "contacts": "CONTACT",
    "deals": "DEAL",
    "meetings": "MEETING",
    "notes": "NOTE",
    "emails": "EMAIL",
    "calls": "CALL",
    "tasks": "TASK",
}
# (from, to) -> default HUBSPOT_DEFINED type id
DEFAULT_TYPE = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("companies", "companies"): 450,
    ("companies", "deals"): 342,
    ("deals", "companies"): 341,
    ("notes", "companies"): 190,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("meetings", "deals"): 212,
    ("deals", "meetings"): 211,
    ("companies", "notes"): 189,
    ("meetings", "companies"): 188,
    ("companies", "meetings"): 187,
    ("meetings", "contacts"): 200,
    ("contacts", "meetings"): 199,
    ("emails", "companies"): 186,
    ("companies", "emails"): 185,
    ("emails", "contacts"): 198,
    ("contacts", "emails"): 197,
    ("calls", "companies"): 182,
    ("companies", "calls"): 181,
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("tasks", "companies"): 192,
    ("companies", "tasks"): 191,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("tasks", "deals"): 216,
    ("deals", "tasks"): 215,
}
SCOPES = {
    "companies": "crm.objects.companies",
    "contacts": "crm.objects.contacts",
    "deals": "crm.objects.deals",
    "meetings": "crm.objects.contacts",
    "notes": "crm.objects.contacts",
    "emails": "crm.objects.contacts",
    "calls": "crm.objects.contacts",
    "tasks": "crm.objects.contacts",  # engagements use the contact scopes
}
ALL_SCOPES = {
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.deals.write",
    "crm.schemas.companies.write",
}
DEFAULT_PROPS = {
    "companies": {
        "name": "string",
        "domain": "string",
        "type": "enumeration",
        "hs_lastmodifieddate": "datetime",
        "createdate": "datetime",
        "hs_object_id": "number",
    },
    "contacts": {
        "firstname": "string",
        "lastname": "string",
        "email": "string",
        "jobtitle": "string",
        "hs_buying_role": "enumeration",
        "lastmodifieddate": "datetime",
        "createdate": "datetime",
        "hs_object_id": "number",
    },
}
ENGAGEMENT_PROPS = {
    "hs_timestamp": "datetime",
    "hs_lastmodifieddate": "datetime",
    "hs_createdate": "datetime",
    "hs_object_id": "number",
}
TYPE_OPTIONS = ["PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"]
VALID_PAIRS = {
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "bool": {"booleancheckbox"},
    "string": {"text", "textarea", "html", "file"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "phone_number": {"phonenumber"},
}


class SimulatedCrash(BaseException):
    """Stands in for the process being killed: nothing in the library catches it."""


@dataclass
class Injection:
    method: str
    path: re.Pattern[str]
    times: int
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raise_: BaseException | type[BaseException] | None = None
    after: bool = False  # apply the request, then fail (the answer is lost)
    raw: str | None = None  # a raw (non-JSON) body
    skip: int = 0  # matching requests let through before the first failure


@dataclass
class ValidationRule:
    object_type: str
    required: str
    message: str
    when: Callable[[dict[str, Any]], bool] | None = None


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _ms(value: Any) -> float | None:
    """A comparable number for numbers, epoch-ms strings and ISO dates."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000
