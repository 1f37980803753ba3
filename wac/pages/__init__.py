"""Public status pages: their definition, notices, what they show, badges and feeds."""
