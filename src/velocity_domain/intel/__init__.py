"""The interaction and evidence graph: interactions and their channel details, reminders, QD scores, vehicle/perception/CCTV evidence and the blob index (the ``intel_*`` tables)."""
