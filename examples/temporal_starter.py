"""Start a durable agent run on Temporal and print its answer.

The run is a workflow (`WeatherReport`, in temporal_worker.py); a worker carries it out.
Given a Temporal service, this script only starts the run and waits for its result, while
temporal_worker.py serves; given none, it starts a dev server and runs a worker itself.

    python examples/temporal_starter.py                            # all in this process
    python examples/temporal_starter.py --temporal localhost:7233  # with temporal_worker.py
"""

import uuid

import anyio
from temporal_worker import (
    TASK_QUEUE,
    WeatherReport,
    model_api,
    temporal,
    temporal_address,
    worker,
)
from temporalio.client import Client


async def ask(client: Client, question: str) -> None:
    handle = await client.start_workflow(
        WeatherReport.run,
        question,
        id=f"weather-{uuid.uuid4()}",  # a workflow id names the run: start it once
        task_queue=TASK_QUEUE,
    )
    print(f"Started workflow {handle.id}")
    print(f"Answer: {await handle.result()}")


async def main(address: str | None) -> None:
    question = "What's the weather in Paris?"
    if address:  # a worker serves elsewhere: temporal_worker.py
        async with temporal(address) as client:
            await ask(client, question)
        return
    async with model_api() as api, temporal(None) as client, worker(client, api):
        await ask(client, question)


anyio.run(main, temporal_address("Start a durable agent run and print its answer."))
