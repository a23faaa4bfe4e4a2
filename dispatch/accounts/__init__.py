"""Accounts: users, roles, scopes, login and tokens."""
