"""Failure injection, validation rules, error and OK answers, scopes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .common import SCOPES, Injection, ValidationRule


class FaultsMixin:
    """Mixed into :class:`hubspot_fake.portal.FakeHubSpot`."""

    def inject(
        self,
        method: str,
        path: str,
        *,
        times: int = 1,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raise_: BaseException | type[BaseException] | None = None,
        after: bool = False,
        raw: str | None = None,
        skip: int = 0,
    ) -> None:
        """Make the next ``times`` requests matching ``method`` and the ``path`` regex fail
        (after letting the first ``skip`` of them through)."""
        self.injections.append(
            Injection(
                method.upper(),
                re.compile(path),
                times,
                status,
                body,
                dict(headers or {}),
                raise_,
                after,
                raw,
                skip,
            )
        )

    def reject_in_batch(
        self,
        object_type: str,
        record_id: str,
        message: str = "Property values were not valid",
        category: str = "VALIDATION_ERROR",
    ) -> None:
        """Refuse this record's input in every batch create/update (a 207 item error) until
        removed from ``batch_rejections``.  For notes, ``record_id`` is the company."""
        self.batch_rejections[(object_type, record_id)] = (message, category)

    def add_validation_rule(
        self,
        object_type: str,
        required: str,
        message: str,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """An admin-configured record rule: a write leaving ``required`` empty on a record for
        which ``when(properties)`` holds is refused — through 2026-09 paths only."""
        self.validation_rules.append(ValidationRule(object_type, required, message, when))

    def _validate(
        self, object_type: str, props: dict[str, Any]
    ) -> tuple[int, dict[str, str], str] | None:
        if not self._dbv:
            return None  # v3/v4 writes were never subject to the portal's rules
        for rule in self.validation_rules:
            if rule.object_type != object_type or props.get(rule.required) not in (None, ""):
                continue
            if rule.when is None or rule.when(props):
                return self._error(
                    400,
                    rule.message,
                    "VALIDATION_ERROR",
                    subCategory="crm.validation.RECORD_VALIDATION_RULE",
                    context={"propertyName": [rule.required]},
                )
        return None

    def _take_injection(self, method: str, path: str) -> Injection | None:
        for injection in self.injections:
            if injection.times > 0 and injection.method == method and injection.path.search(path):
                if injection.skip > 0:
                    injection.skip -= 1
                    continue
                injection.times -= 1
                return injection
        return None

    def _inject_answer(self, injection: Injection) -> tuple[int, dict[str, str], str]:
        if injection.raise_ is not None:
            raise injection.raise_  # type: ignore[misc]
        if injection.raw is not None:
            return injection.status, injection.headers, injection.raw
        body = (
            injection.body
            if injection.body is not None
            else {
                "status": "error",
                "message": "internal error",
                "correlationId": "c-injected",
                "category": "INTERNAL_ERROR",
            }
        )
        return injection.status, injection.headers, json.dumps(body)

    def _error(
        self, status: int, message: str, category: str, **extra: Any
    ) -> tuple[int, dict[str, str], str]:
        body = {
            "status": "error",
            "message": message,
            "correlationId": f"corr-{len(self.calls)}",
            "category": category,
            **extra,
        }
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def _ok(self, body: Any, status: int = 200) -> tuple[int, dict[str, str], str]:
        return (
            status,
            {
                "Content-Type": "application/json",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-Correlation-Id": f"corr-{len(self.calls)}",
            },
            json.dumps(body),
        )

    def _need(self, scope: str) -> tuple[int, dict[str, str], str] | None:
        if scope in self.scopes:
            return None
        return self._error(
            403,
            "This app hasn't been granted all required scopes to make this call.",
            "MISSING_SCOPES",
            context={"missingScopes": [scope]},
        )

    def _scoped(self, object_type: str, access: str) -> tuple[int, dict[str, str], str] | None:
        return self._need(f"{SCOPES.get(object_type, 'crm.objects.' + object_type)}.{access}")
