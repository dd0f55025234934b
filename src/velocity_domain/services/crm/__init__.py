"""The CRM route families: contacts, accounts, relationships, leads, deals and imports."""
