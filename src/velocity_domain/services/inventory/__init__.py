"""The inventory route family: projects, units, prices, media, unit status and location search."""
