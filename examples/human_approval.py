"""Human approval: a sensitive tool waits for a person; the paused run survives a restart.

A tool declared with `needs_approval=True` (or a function of its arguments) pauses the run
instead of running: the result has status `requires_action` and lists `pending_calls`.
`result.state.to_json()` saves everything needed to continue; `agent.resume_sync(state,
approvals={call_id: True | False | substitute result})` continues, in this process or another.

    python examples/human_approval.py                   # pause, save, then resume from the file
    python examples/human_approval.py --save run.json   # only pause and save
    python examples/human_approval.py --resume run.json # resume a saved run (another process)
"""

import argparse
import sys
import tempfile
from pathlib import Path

from _backend import client_for_examples

from agentkit import Agent, RunState, tool


@tool
def get_balance(account: str) -> dict:
    """Get the balance of a bank account.

    Args:
        account: The account name.
    """
    return {"account": account, "balance_eur": 1250.0}


# needs_approval may also be a function of the arguments, e.g.
# needs_approval=lambda arguments: arguments["amount_eur"] > 100
@tool(needs_approval=True)
def send_payment(recipient: str, amount_eur: float) -> str:
    """Send a payment from the customer's account.

    Args:
        recipient: Who receives the money.
        amount_eur: How much, in euros.
    """
    return f"Sent {amount_eur:.2f} EUR to {recipient}."


agent = Agent(
    "gemini-3.5-flash",
    tools=[get_balance, send_payment],
    # Stateless: the saved state holds the whole conversation, so any process can resume it
    # later without relying on the server having stored the interaction.
    store=False,
    client=client_for_examples(),
)


def pause(path: Path) -> None:
    """Start the run; it stops at the payment and we save it to a file."""
    result = agent.run_sync("Check my main account, then pay 450 EUR to Alice for the rent.")
    if result.status != "requires_action":
        print(f"Nothing needed approval: {result.output_text}")
        return
    for call in result.pending_calls:
        print(f"Waiting for approval: {call.name}({call.arguments})")
    path.write_text(result.state.to_json())
    print(f"Saved the paused run to {path}")


def resume(path: Path) -> None:
    """Load the paused run, ask a person, and continue."""
    state = RunState.from_json(path.read_text())
    approvals = {}
    for call in state.pending_calls:  # calls of tools without needs_approval just run
        question = f"Approve {call.name}({call.arguments})? [y/N] "
        if sys.stdin.isatty():
            approved = input(question).strip().lower() == "y"
        else:  # no one to ask (e.g. in CI): approve, and say so
            print(question + "y (not interactive)")
            approved = True
        approvals[call.id] = approved  # or a substitute result: "Payment limit reached."
    result = agent.resume_sync(state, approvals=approvals)
    print(f"Resumed: {result.status}")
    print(f"Answer: {result.output_text}")


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--save", type=Path, metavar="FILE", help="only pause and save the run")
parser.add_argument("--resume", type=Path, metavar="FILE", help="resume a saved run")
args = parser.parse_args()

if args.resume:
    resume(args.resume)
elif args.save:
    pause(args.save)
else:
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "paused_run.json"
        pause(saved)
        if saved.exists():
            print("... later, maybe in another process ...")
            resume(saved)
