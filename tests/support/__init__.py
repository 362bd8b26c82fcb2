"""What the tests of every tier share: harnesses (the in-process cloud, private servers, QEMU guests) and
small helpers. Fixtures stay in the conftest.py files, which build them from here."""
