"""The one user and organisation a sandbox has: it owns every dashboard, monitor, workflow and case."""

from __future__ import annotations

SANDBOX_USER = {"id": 1, "handle": "sandbox@autonomic-kit.local", "name": "Autonomic Sandbox",
                "email": "sandbox@autonomic-kit.local"}
SANDBOX_USER_UUID = "00000000-0000-4000-8000-00000000a11c"  # the v2 user id (workflow creator/owner, case author)
ORG_ID = 1
