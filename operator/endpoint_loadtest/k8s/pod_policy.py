"""What a test may ask of its Locust pods beyond the operator's defaults.

Whoever may create an EndpointLoadTest makes the operator create pods. The chart's
ValidatingAdmissionPolicy lets through a custom image, ServiceAccount or scheduling
only for an author who may create pods in the namespace; this policy is the floor the
operator keeps itself, so a cluster without that policy (or with it turned off) is
covered too. The defaults allow nothing beyond the operator's own image and Locust
ServiceAccount.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from endpoint_loadtest.api.models import PodSettings

ANY = "*"


def _list_env(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _bool_env(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise SystemExit(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True)
class PodPolicy:
    # spec.pod.image must start with one of these (the operator's Locust image always may).
    allowed_image_prefixes: list[str] = field(default_factory=list)
    # spec.pod.serviceAccountName must be one of these (the default Locust one always may).
    allowed_service_accounts: list[str] = field(default_factory=list)
    # spec.pod.nodeSelector and spec.pod.tolerations.
    allow_scheduling_overrides: bool = False

    @classmethod
    def from_environment(cls) -> PodPolicy:
        return cls(
            allowed_image_prefixes=_list_env("ELT_ALLOWED_IMAGE_PREFIXES"),
            allowed_service_accounts=_list_env("ELT_ALLOWED_SERVICE_ACCOUNTS"),
            allow_scheduling_overrides=_bool_env("ELT_ALLOW_SCHEDULING_OVERRIDES"),
        )

    def check(self, pod: PodSettings, default_image: str, default_sa: str | None) -> None:
        """Refuse (ValueError) naming the field and the setting that does not allow it."""
        prefixes = self.allowed_image_prefixes
        image = pod.image
        if (
            image
            and image != default_image
            and ANY not in prefixes
            and not any(image.startswith(p) for p in prefixes)
        ):
            raise ValueError(
                f"spec.pod.image: {image} is not allowed by this operator's "
                f"settings.allowedImagePrefixes ({_shown(prefixes)})"
            )
        accounts = self.allowed_service_accounts
        account = pod.service_account_name
        if account and account != default_sa and ANY not in accounts and account not in accounts:
            raise ValueError(
                f"spec.pod.serviceAccountName: {account} is not allowed by this operator's "
                f"settings.allowedServiceAccounts ({_shown(accounts)})"
            )
        if not self.allow_scheduling_overrides:
            for name, value in (
                ("nodeSelector", pod.node_selector),
                ("tolerations", pod.tolerations),
            ):
                if value:
                    raise ValueError(
                        f"spec.pod.{name}: scheduling overrides are not allowed by this "
                        "operator's settings.allowSchedulingOverrides (false)"
                    )


def _shown(items: list[str]) -> str:
    return ", ".join(items) if items else "none"
