"""`python -m localcluster.node CONFIG.json`: run the node agent until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

from localcluster.node.agent import Agent, AgentConfig


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s"
    )
    cfg = AgentConfig(**json.loads(Path(sys.argv[1]).read_text()))
    agent = Agent(cfg)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    agent.run()


if __name__ == "__main__":
    main()
