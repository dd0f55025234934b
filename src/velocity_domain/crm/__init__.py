"""CRM core.

People, accounts, households, relationships, leads, opportunities, property interests,
stage history (the ``crm_*`` tables).
"""
