"""Voice skills: each module declares its sentences per language and its handlers (SKILL)."""
