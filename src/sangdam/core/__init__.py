"""Settings, database session, event bus and clock: the parts every feature uses."""
