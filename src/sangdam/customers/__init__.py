"""Customers, contact points (phone, email, messenger ids) and identity verification."""
