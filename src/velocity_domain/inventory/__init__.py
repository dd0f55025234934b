"""Inventory.

Projects, units, pricing history, availability, media, location index and import jobs
(the ``inventory_*`` tables).
"""
