"""Agents, skills, queues, offers, assignment, business hours and holidays, wait estimates, staffing."""
