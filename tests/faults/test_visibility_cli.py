"""The visibility case as users ran it, through ``batchmap run``: nothing dead-lettered, each message once.

``--batch-size 100 --maximum-batching-window-in-seconds 3 --timeout 1`` on a queue
with ``VisibilityTimeout=1`` and a redrive policy of ``maxReceiveCount`` 2, 8
messages sent 0.3 s apart; and the one start-up line about the visibility timeout.
Users had a 6 s window; 3 s holds the first message past its timeout three times
over all the same, enough for a third receive to dead-letter it were it not kept hidden.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from contract_kits import (  # noqa: F401  (fixtures are found by name)
    Kit,
    fresh_handlers,
    kit_for,
    logged,
    messages,
    moto,
    sqlite_queue_kit,
    sqs_kit,
    start,
)

COUNT = 8
SPACING_S = 0.3
FLAGS = ("--batch-size", "100", "--maximum-batching-window-in-seconds", "3", "--timeout", "1", "--until-idle")


@pytest.fixture(params=("sqlite_queue", "sqs"))
def case_kit(request: pytest.FixtureRequest) -> Kit:
    return kit_for(request)


@pytest.mark.slow
def test_batchmap_run_holds_messages_through_a_long_window(case_kit: Kit, tmp_path: Path) -> None:
    target = case_kit.create(visibility_timeout_s=1, max_receive_count=2)
    sent = messages(COUNT)
    target.send(sent[:1])  # --until-idle needs something to start on; the rest arrives during the window
    log = tmp_path / "processed.log"
    engine = start(target, log, *FLAGS, sleep_s=0.05)
    for message in sent[1:]:
        time.sleep(SPACING_S)
        target.send([message])
    code = engine.wait(60)
    errors = Path(engine.stderr_path).read_text()  # type: ignore[attr-defined]
    assert code == 0, errors[-3000:]

    assert Counter(i for i, _ in logged(log)) == {m["id"]: 1 for m in sent}
    assert target.dead_letters() == []
    assert target.backlog().total == 0
    lines = [line for line in errors.splitlines() if "VisibilityTimeout" in line]
    assert len(lines) == 1, errors[-3000:]
    assert "VisibilityTimeout 1 s is below AWS's advised minimum of 9 s" in lines[0]
    assert "6 x function timeout 1 s + batching window 3 s" in lines[0]
