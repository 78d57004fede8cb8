"""``cmrules check`` for HubSpot: the API version in use and its support dates, the kind of
credential, and the scopes a run needs (read scopes probed, missing ones named)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cmrules.errors import AuthError

from .client import HubSpotClient
from .settings import HubSpotSettings

# object type -> the read scope HubSpot checks (engagements use the contact scopes)
READ_SCOPES = {
    "companies": "crm.objects.companies.read",
    "contacts": "crm.objects.contacts.read",
    "deals": "crm.objects.deals.read",
    "meetings": "crm.objects.contacts.read",
    "notes": "crm.objects.contacts.read",
    "emails": "crm.objects.contacts.read",
    "calls": "crm.objects.contacts.read",
}
WRITE_SCOPES = (
    "crm.objects.companies.write (flags)",
    "crm.objects.contacts.write (notes)",
    "crm.schemas.companies.write (setup)",
)


def check_portal(
    client: HubSpotClient, settings: HubSpotSettings, today: date | None = None
) -> list[str]:
    """Lines for ``cmrules check``; a refused credential or a missing read scope raises one
    :class:`AuthError` naming every missing scope (exit 3)."""
    today = today or datetime.now(UTC).date()
    version_line, version_warning = client.api.status(today)
    lines = [version_line]
    if version_warning:
        lines.append(f"warning: {version_warning}")
    lines.append(
        f"hubspot: credential: {settings.credential} (from {settings.credential_source}; "
        "HubSpot sends both kinds as a bearer and does not say which it is)"
    )
    if settings.credential != "Service Key":
        lines.append(
            "warning: legacy private apps can no longer be created (since 26 Oct 2026) and go "
            "unsupported in Sep 2027: create a Service Key with the same scopes and set "
            "HUBSPOT_SERVICE_KEY (docs/hubspot.md, Connecting)"
        )
    types = ["companies", "contacts", "notes", *settings.activity_types]
    if settings.clients_via_deals:
        types.append("deals")
    missing: list[str] = []
    for object_type in dict.fromkeys(types):
        scope = READ_SCOPES.get(object_type, f"crm.objects.{object_type}.read")
        if scope in missing:
            continue
        try:
            client.request("GET", client.api.objects_path(object_type), params={"limit": 1})
        except AuthError as exc:
            text = str(exc)
            if " HTTP 403" not in text:
                raise  # 401: the credential itself was refused
            named = (
                text.split("missing scopes:", 1)[1].split("[", 1)[0] if "missing" in text else ""
            )
            for name in [s.strip() for s in named.split(",") if s.strip()] or [scope]:
                if name not in missing:
                    missing.append(name)
    if missing:
        raise AuthError(
            f"HubSpot: the {settings.credential} lacks the scope(s) {', '.join(missing)}: add "
            "them to it (HubSpot > Development > Keys > Service keys > the key > Scopes), then "
            "rerun `cmrules check`"
        )
    read = sorted({READ_SCOPES.get(t, f"crm.objects.{t}.read") for t in types})
    lines.append(
        f"hubspot: {settings.credential} accepted by the portal at "
        f"{client.base_url.split('://', 1)[-1]}; read scopes present: {', '.join(read)}"
    )
    lines.append(
        "hubspot: write scopes cannot be tested without writing; a run (or `cmrules setup`) "
        "names any that is missing: " + ", ".join(WRITE_SCOPES)
    )
    return lines
