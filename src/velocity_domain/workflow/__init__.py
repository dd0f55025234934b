"""AI workflow and governance.

Agent runs, actions, branches, approvals, writebacks and policy decisions (the
``workflow_*`` tables).
"""
