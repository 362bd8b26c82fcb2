"""The customer portal (#20): self-service sign-up, accounts and plans (PortalAPI in service.py, behind
/portal/v1), support tickets (tickets*.py). Mail goes through overcast.mail via the portal's outbox."""
