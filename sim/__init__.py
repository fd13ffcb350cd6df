"""The exchange side: a venue and its market (clock, instruments, book, journal, FIX)."""
