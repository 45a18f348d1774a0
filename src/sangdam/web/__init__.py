"""The web layer: app factory, dependencies, auth, pages and JSON routes. Only this package knows HTTP."""
