"""What ``cmrules setup`` does for Zendesk: nothing to create (notes and tags are built in)."""

from __future__ import annotations

from .blocks import TAG_PREFIX


def setup_lines(dry_run: bool = False) -> list[str]:
    """The plan: findings go to the built-in organisation notes and tags."""
    return [
        "zendesk: nothing to create — findings go to the built-in organisation notes "
        f"(between cmrules markers) and tags ({TAG_PREFIX}risk_<level>, "
        f"{TAG_PREFIX}flag_<rule>)"
    ]
