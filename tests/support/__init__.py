"""Helpers the tests share (imported by conftest and test modules; not tests)."""
