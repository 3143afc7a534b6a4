"""Settings dialog and tabs, create/clone, backup, restore and update wizards."""
