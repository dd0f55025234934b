"""The interaction and evidence graph.

Interactions and their channel details, reminders, QD scores, vehicle/perception/CCTV
evidence and the blob index (the ``intel_*`` tables).
"""
