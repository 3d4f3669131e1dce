"""The central recording archive: shipping target, backup copy, fixity audit, record export."""
