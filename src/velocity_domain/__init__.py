"""velocity_domain: the canonical domain model of the Project Velocity CRM."""

__version__ = "0.1.0"
