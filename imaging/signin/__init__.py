"""Signing in with an account kept elsewhere: a person's K5 account (k5.py, with its lockout
guard in guard.py) or the company's single sign-on (oidc.py). Both end in memberships.py,
which replaces the account's memberships from what the source said and audits each change.
The forms and views put both beside the local sign-in on /accounts/login/."""
