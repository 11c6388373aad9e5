"""k5sim: a standard-library HTTP simulator of the K5 (OpenStack) APIs the portal uses.

Run it with `python -m k5sim`; see README.md beside this file for the behaviour it promises.
"""
