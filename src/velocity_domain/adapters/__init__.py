"""Store adapters: the only code that touches a database driver.

Each adapter implements the ports of the six domain packages.
"""
