"""The images the node runs: what `make image` built, imported into containerd at start.

`make image` leaves docker-archive tarballs and their references in .cache/images/
(refs.env). The product's image is also tagged under the operator's default image
name, so the manifests the operator builds, and the chart's defaults, run it
unchanged, with imagePullPolicy IfNotPresent and nothing to pull.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from localcluster.paths import REPO_ROOT

IMAGES_DIR = REPO_ROOT / ".cache" / "images"
REFS_FILE = IMAGES_DIR / "refs.env"
#: The operator's default image (endpoint_loadtest.k8s.manifests.DEFAULT_IMAGE) and the
#: chart's default (image.repository:appVersion).
PRODUCT_ALIASES = ("ghcr.io/elt-dev/endpoint-loadtest-operator:0.1.0",)


class ImagesMissing(RuntimeError):
    """`make image` has not been run (or its output was removed)."""


def _refs() -> dict[str, str]:
    refs: dict[str, str] = {}
    if REFS_FILE.exists():
        for line in REFS_FILE.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                refs[key.strip()] = value.strip().strip('"')
    return refs


@dataclass(frozen=True)
class Images:
    product: str
    pause: str
    product_archive: Path
    pause_archive: Path

    @classmethod
    def from_build(cls) -> Images:
        refs = _refs()
        return cls(
            product=refs.get("ELT_IMAGE", ""),
            pause=refs.get("PAUSE_IMAGE", ""),
            product_archive=IMAGES_DIR / "endpoint-loadtest-operator.tar",
            pause_archive=IMAGES_DIR / "pause.tar",
        )

    def check(self) -> None:
        missing = [str(p) for p in (self.product_archive, self.pause_archive) if not p.is_file()]
        if missing or not self.product or not self.pause:
            raise ImagesMissing(
                f"the node's images are missing ({', '.join(missing) or REFS_FILE}): "
                "run `make image` first"
            )

    def import_into(self, containerd: object) -> None:
        containerd.import_image(self.pause_archive, self.pause)  # type: ignore[attr-defined]
        containerd.import_image(  # type: ignore[attr-defined]
            self.product_archive, self.product, *PRODUCT_ALIASES
        )
