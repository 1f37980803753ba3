"""PostgreSQL: every connection wac opens (`connect`) and the schema migrations (`migrate`)."""
