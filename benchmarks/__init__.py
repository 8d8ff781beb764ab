"""Scripts that print Crate's measured figures; each has a --quick mode run by the tests."""
