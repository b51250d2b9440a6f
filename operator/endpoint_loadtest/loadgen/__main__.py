"""`elt-locust`: Locust with the product's locustfile, for the master and workers.

All other arguments are Locust's own (--master, --worker, --master-host, ...).
Importing locust first lets gevent patch the standard library before anything else.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    from locust.main import main as locust_main

    locustfile = Path(__file__).with_name("locustfile.py")
    sys.argv = ["locust", "-f", str(locustfile), *sys.argv[1:]]
    locust_main()


if __name__ == "__main__":
    main()
