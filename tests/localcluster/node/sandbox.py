"""Container launcher: own mount + UTS namespace, pod files bind-mounted, then exec.

Run as `python -m localcluster.node.sandbox SPEC.json`. In a private mount
namespace it bind-mounts the pod's generated hosts file over /etc/hosts (so the
libc resolver, and gevent's threaded resolver, see Service names) and the pod's
volumes (e.g. the ServiceAccount token at /var/run/secrets/kubernetes.io/
serviceaccount) at their mountPaths, sets the hostname to the pod's, and execs
the container's command. Nothing outside the namespace changes, except that a
missing mountPath is created as an empty directory (or file) on the host.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bind(src: str, dst: str, read_only: bool) -> None:
    target = Path(dst)
    if not target.exists():
        if Path(src).is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    _check(_libc.mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None), f"bind {dst}")
    if read_only:
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        _check(_libc.mount(None, dst.encode(), None, flags, None), f"read-only {dst}")


def enter(spec: dict) -> None:
    """Set up the namespaces and mounts described by `spec` in this process."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    hostname = spec["hostname"].encode()
    _check(_libc.sethostname(hostname, len(hostname)), "sethostname")
    _bind(spec["hosts_file"], "/etc/hosts", read_only=False)
    for mount in spec.get("mounts", []):
        _bind(mount["src"], mount["dst"], bool(mount.get("readOnly")))
    cwd = Path(spec["cwd"])
    cwd.mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    error_file = spec["error_file"]
    argv = spec["argv"]
    try:
        if not argv:
            raise OSError("no command specified")
        enter(spec)
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as exc:
        message = f"failed to start container: {argv[:1]}: {exc}"
        Path(error_file).write_text(message)
        print(message, file=sys.stderr, flush=True)
        os._exit(128)


if __name__ == "__main__":
    main()
