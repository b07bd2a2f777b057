"""The data tests read copies of tests/fixtures/data; no model is loaded."""
