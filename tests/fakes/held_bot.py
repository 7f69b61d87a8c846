"""`unionbot run` with a hold in front of the handlers, for crash tests.

    UNIONBOT_TEST_HOLD=/tmp/x python -m tests.fakes.held_bot run

While the file named by UNIONBOT_TEST_HOLD exists, every dispatch appends its kind to
`<file>.held` and then waits (60 s at most) until the file is gone: a test can then
kill the process while an update is being handled, knowing it is. Without the
variable this is exactly `python -m bot`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.cli import main
from handlers.dispatcher import Dispatcher

HOLD = os.environ.get("UNIONBOT_TEST_HOLD")

if HOLD:
    _real_handle = Dispatcher.handle

    async def _held_handle(self, inbound):  # type: ignore[no-untyped-def]
        hold = Path(HOLD)
        if hold.exists():
            with open(f"{HOLD}.held", "a", encoding="utf-8") as f:
                f.write(f"{inbound.kind.value}\n")
            for _ in range(600):
                if not hold.exists():
                    break
                await asyncio.sleep(0.1)
        return await _real_handle(self, inbound)

    Dispatcher.handle = _held_handle  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
