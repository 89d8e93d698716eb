"""The next release: the same migrations, and one that drops the column the first release read."""
