"""Test infrastructure shared by every service's tests."""
