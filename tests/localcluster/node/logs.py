"""Where container logs live and how to read them (shared by agent, harness, kubelet port).

Layout: <data>/pods/<namespace>_<pod>_<uid>/<container>/<restartCount>.log, stdout
and stderr interleaved. The highest restartCount is the current instance.
"""

from __future__ import annotations

from pathlib import Path


def pod_dir(root: Path, namespace: str, pod: str, uid: str) -> Path:
    return root / "pods" / f"{namespace}_{pod}_{uid}"


def find_pod_dir(root: Path, namespace: str, pod: str) -> Path | None:
    """The newest directory of a pod with this name (a recreated pod has a new uid)."""
    candidates = list((root / "pods").glob(f"{namespace}_{pod}_*"))
    candidates = [c for c in candidates if c.name.rsplit("_", 1)[0] == f"{namespace}_{pod}"]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def log_files(container_dir: Path) -> list[Path]:
    """A container's log files, oldest instance first."""
    return sorted(container_dir.glob("*.log"), key=lambda p: int(p.stem))


def log_path(root: Path, namespace: str, pod: str, container: str, previous: bool = False) -> Path:
    """The log file of the current (or previous) instance of a container."""
    directory = find_pod_dir(root, namespace, pod)
    if directory is None:
        raise FileNotFoundError(f"no logs for pod {namespace}/{pod}")
    files = log_files(directory / container)
    if not files:
        raise FileNotFoundError(f"no logs for container {container} of pod {namespace}/{pod}")
    if previous:
        if len(files) < 2:
            raise FileNotFoundError(f"no previous instance of {namespace}/{pod}/{container}")
        return files[-2]
    return files[-1]


def containers(root: Path, namespace: str, pod: str) -> list[str]:
    directory = find_pod_dir(root, namespace, pod)
    if directory is None:
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_log(
    root: Path,
    namespace: str,
    pod: str,
    container: str | None = None,
    previous: bool = False,
    tail: int | None = None,
) -> str:
    """A container's log text; `container` may be omitted for single-container pods."""
    if container is None:
        names = containers(root, namespace, pod)
        if len(names) != 1:
            raise ValueError(f"pod {namespace}/{pod} has containers {names}: name one")
        container = names[0]
    text = log_path(root, namespace, pod, container, previous).read_text(errors="replace")
    if tail is not None:
        text = "\n".join(text.splitlines()[-tail:]) + ("\n" if text else "")
    return text
