"""FIX 4.2/4.4 shared by the venue and the order engines: codec, dictionary, session, store, transport."""
