"""A durable run that waits for a person's approval, for as long as it takes.

`send_payment` (in temporal_worker.py) has `needs_approval=True`, so the run stops before
paying and waits, inside its workflow: workers may restart meanwhile, nothing is lost. The
ready-made `AgentWorkflow` runs the agent; its `pending` query lists the calls waiting, and
its `decide` update approves (True), refuses (False) or answers for one call.

    python examples/temporal_approval.py                            # all in this process
    python examples/temporal_approval.py --temporal localhost:7233  # with temporal_worker.py
"""

import sys
import uuid
from typing import Any

import anyio
from temporal_worker import TASK_QUEUE, model_api, payments, temporal, temporal_address, worker
from temporalio.client import Client

from agentkit.contrib.temporal import AgentWorkflow, AgentWorkflowInput


async def pay_rent(client: Client) -> None:
    handle = await client.start_workflow(
        AgentWorkflow.run,
        AgentWorkflowInput(payments.name, "Check my main account, then pay Alice 450 EUR rent."),
        id=f"payments-{uuid.uuid4()}",
        task_queue=TASK_QUEUE,
    )
    print(f"Started workflow {handle.id}")

    pending: list[dict[str, Any]] = []
    while not pending:  # until the run reaches the payment
        await anyio.sleep(0.2)
        pending = await handle.query(AgentWorkflow.pending)
    for call in pending:  # wire function_call steps: id, name, arguments
        question = f"Approve {call['name']}({call['arguments']})? [y/N] "
        if sys.stdin.isatty():
            approved = (await anyio.to_thread.run_sync(input, question)).strip().lower() == "y"
        else:  # no one to ask (e.g. in CI): approve, and say so
            print(question + "y (not interactive)")
            approved = True
        await handle.execute_update("decide", args=[call["id"], approved])

    result = await handle.result()
    print(f"Finished: {result.status}")
    print(f"Answer: {result.output_text}")


async def main(address: str | None) -> None:
    if address:  # a worker serves elsewhere: temporal_worker.py
        async with temporal(address) as client:
            await pay_rent(client)
        return
    async with model_api() as api, temporal(None) as client, worker(client, api):
        await pay_rent(client)


anyio.run(main, temporal_address("Run a durable payment that waits for approval."))
