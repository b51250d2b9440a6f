"""What a test may put into the Locust pods' environment, and how it gets there safely.

A test author is not necessarily allowed to create pods: the operator creates them.
So the environment a spec asks for must not change how the interpreter or the
dynamic loader start (``PYTHON*``, ``LD_*``: ``PYTHONPATH`` pointed at a mounted
ConfigMap runs its code), must not replace the operator's own variables (``ELT_*``),
and must not let Kubernetes expand ``$(VAR)`` (which could paste a Secret's value
into a URL). The same rules run in three places: the CRD (CEL, at admission), the
pydantic model (``elt validate``, and the operator, for a cluster without the rule),
and the manifest builder (escaping, and the operator's variables last).
"""

from __future__ import annotations

from endpoint_loadtest.api.base import cel

# Upper-cased prefixes of the names a test may not set (checked case-insensitively).
RESERVED_ENV_PREFIXES = ("PYTHON", "LD_", "ELT_")
RESERVED_ENV_MESSAGE = (
    "must not start with PYTHON, LD_ or ELT_: these change how the load generator's "
    "interpreter and loader start, or are the operator's own variables"
)
ENV_NAME_RULE = cel(
    f"!{list(RESERVED_ENV_PREFIXES)}.exists(p, self.name.upperAscii().startsWith(p))",
    RESERVED_ENV_MESSAGE,
    ".name",
)
ENV_PREFIX_RULE = cel(
    "!has(self.prefix) || "
    f"!{list(RESERVED_ENV_PREFIXES)}.exists(p, self.prefix.upperAscii().startsWith(p))",
    RESERVED_ENV_MESSAGE,
    ".prefix",
)

# Names that load code at start-up, pinned empty by the operator after everything
# else: `env` wins over `envFrom` in Kubernetes, so keys of a ConfigMap or Secret
# in envFrom (which the operator cannot see) cannot set them either. Empty values
# are ignored by CPython and by the glibc loader.
PINNED_EMPTY_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONPLATLIBDIR",
    "PYTHONWARNINGS",
    "PYTHONBREAKPOINT",
    "PYTHONINSPECT",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "GCONV_PATH",
)


def reserved_env_name(name: str) -> bool:
    return name.upper().startswith(RESERVED_ENV_PREFIXES)


def check_env_name(name: str) -> str:
    """The pydantic side of ENV_NAME_RULE (the model names the field)."""
    if reserved_env_name(name):
        raise ValueError(f"{name!r} {RESERVED_ENV_MESSAGE}")
    return name


def check_env_prefix(prefix: str | None) -> str | None:
    if prefix and reserved_env_name(prefix):
        raise ValueError(f"{prefix!r} {RESERVED_ENV_MESSAGE}")
    return prefix


def literal_env_value(value: str) -> str:
    """The value Kubernetes turns back into ``value`` without expanding anything.

    The kubelet expands ``$(VAR)`` and reduces ``$$`` to ``$`` in env values; doubling
    every ``$`` makes each one literal (``$(S)`` -> ``$$(S)``; ``$$(S)`` stays ``$$(S)``
    as written, which escaping ``$(`` alone would turn into an expansion).
    """
    return value.replace("$", "$$")
