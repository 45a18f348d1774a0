"""Privacy: the audit log and the guard that finds and masks card numbers, CVCs, RRNs, passwords and accounts."""
