"""The intel route families: interactions (the evidence graph) and tasks (reminders)."""
