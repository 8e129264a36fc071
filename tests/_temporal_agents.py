"""Durable agents and workflows of the Temporal tests, shared by the test process and workers.

The tools append `<tool> <idempotency key> started|finished <pid>` to the file named by
`AGENTKIT_TEST_LEDGER` (fsync'd), so a test counts real executions across processes. A tool
named by `AGENTKIT_TEST_BLOCK` prints `blocked <tool> <key>` after it starts, then waits to be
killed with its process.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import timedelta
from typing import Any

from temporalio import workflow

from agentkit import Agent, PollPolicy, RunContext, tool
from agentkit.contrib.temporal import Approvals, TemporalAgent, ToolOptions

MODEL = "gemini-3-flash-preview"
LEDGER = "AGENTKIT_TEST_LEDGER"
BLOCK = "AGENTKIT_TEST_BLOCK"
ORPHANED = 120.0  # seconds a blocked tool waits for its SIGKILL before it gives up
QUICK = ToolOptions(heartbeat_timeout=timedelta(seconds=2))
"""Tests take a silent worker for dead after 2 s, so recovery is quick."""


def _note(name: str, key: str | None, what: str) -> None:
    path = os.environ.get(LEDGER)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as ledger:
        ledger.write(f"{name} {key} {what} {os.getpid()}\n")
        ledger.flush()
        os.fsync(ledger.fileno())


def _run(name: str, ctx: RunContext[Any], value: dict[str, Any]) -> dict[str, Any]:
    _note(name, ctx.idempotency_key, "started")
    if os.environ.get(BLOCK) == name:
        sys.stdout.write(f"blocked {name} {ctx.idempotency_key}\n")
        sys.stdout.flush()
        threading.Event().wait(ORPHANED)
    _note(name, ctx.idempotency_key, "finished")
    return value


@tool
def charge(ctx: RunContext[Any], amount: int) -> dict[str, Any]:
    """Charge the customer's card.

    Args:
        amount: The amount in cents.
    """
    return _run("charge", ctx, {"charged": amount, "key": ctx.idempotency_key})


@tool(idempotent=True)
def lookup(ctx: RunContext[Any], sku: str) -> dict[str, Any]:
    """Look up the stock level of a product.

    Args:
        sku: The product's stock keeping unit.
    """
    return _run("lookup", ctx, {"sku": sku, "stock": 3})


@tool(needs_approval=True)
def refund(ctx: RunContext[Any], amount: int) -> dict[str, Any]:
    """Refund the customer.

    Args:
        amount: The amount in cents.
    """
    return _run("refund", ctx, {"refunded": amount})


billing = TemporalAgent(
    Agent(MODEL, tools=[charge, lookup], name="billing"),
    tool_options={"charge": QUICK, "lookup": QUICK},
    heartbeat_timeout=timedelta(seconds=2),
)
refunds = TemporalAgent(
    Agent(MODEL, tools=[refund], name="refunds"),
    tool_options={"refund": QUICK},
    heartbeat_timeout=timedelta(seconds=2),
)
researcher = TemporalAgent(
    Agent(
        MODEL,
        tools=[lookup],
        name="researcher",
        background=True,
        poll=PollPolicy(first=0.2, factor=1.5, max_interval=0.5),
    ),
    tool_options={"lookup": QUICK},
    heartbeat_timeout=timedelta(seconds=2),
)
stateless = TemporalAgent(
    Agent(MODEL, tools=[lookup], name="stateless", store=False),
    tool_options={"lookup": QUICK},
    heartbeat_timeout=timedelta(seconds=2),
)


impatient = TemporalAgent(
    Agent(
        MODEL,
        name="impatient",
        background=True,
        poll=PollPolicy(first=0.1, factor=1.0, max_interval=0.1, deadline=0.35),
    ),
    heartbeat_timeout=timedelta(seconds=2),
)
hasty = TemporalAgent(
    Agent(MODEL, tools=[refund], name="hasty"),
    tool_options={"refund": QUICK},
    approval_timeout=timedelta(seconds=1),
)
AGENTS = [billing, refunds, researcher, stateless, impatient, hasty]


@workflow.defn
class BillingWorkflow:
    """Runs the billing agent; returns the answer."""

    @workflow.run
    async def run(self, prompt: str) -> str | None:
        return (await billing.run(prompt)).output_text


@workflow.defn
class RefundWorkflow:
    """Runs the refunds agent; a refund waits for the `decide` update."""

    def __init__(self) -> None:
        self.approvals = Approvals()

    @workflow.run
    async def run(self, prompt: str) -> str | None:
        return (await refunds.run(prompt, approvals=self.approvals)).output_text

    @workflow.update
    async def decide(self, call_id: str, decision: bool) -> None:
        self.approvals.decide(call_id, decision)

    @decide.validator
    def _check(self, call_id: str, decision: bool) -> None:
        self.approvals.validate(call_id)

    @workflow.query
    def pending(self) -> list[str]:
        return [call.id or "" for call in self.approvals.pending]


WORKFLOWS = [BillingWorkflow, RefundWorkflow]
