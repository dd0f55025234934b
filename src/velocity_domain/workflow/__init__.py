"""AI workflow and governance: agent runs, actions, branches, approvals, writebacks and policy decisions (the ``workflow_*`` tables)."""
