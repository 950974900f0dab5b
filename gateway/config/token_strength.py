"""Is a configured token strong enough to guard erasure? Refused at start with the reason.

Length alone is no test: sixteen spaces or one letter sixteen times were accepted before. The
rules below refuse what a person types when asked for a secret (a word, a keyboard or number
run, a repeated pattern, few distinct characters) and pass every token `openssl rand -hex 24`
or `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` makes. They estimate the
entropy from the token's own characters (a random 20-character hex token has about 60 bits of
it, a 16-character repetition of two letters 16), which a generated token clears with room to spare.
"""

from __future__ import annotations

import math
from collections import Counter

MIN_LENGTH = 20
MIN_ENTROPY_BITS = 48.0
HOW_TO_MAKE_ONE = "make one with `openssl rand -hex 24`"
# What people type when asked for a secret (lower case; matched anywhere in the token).
GUESSABLE_PARTS = (
    "password", "passwort", "changeme", "letmein", "secret", "qwerty", "azerty", "qwertz", "admin",
    "touchgate", "example", "default", "123456", "abcdef", "iloveyou",
)


def token_weakness(token: str) -> str | None:
    """Why `token` is too weak to use, or None when it is fine."""
    if len(token) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters ({HOW_TO_MAKE_ONE})"
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        return "must not contain spaces or control characters (a stray newline from a file, perhaps?)"
    lowered = token.lower()
    for part in GUESSABLE_PARTS:
        if part in lowered:
            return f"contains the guessable {part!r} ({HOW_TO_MAKE_ONE})"
    if _repeats_a_unit(token):
        return f"is one short pattern repeated ({HOW_TO_MAKE_ONE})"
    if _mostly_runs(token):
        return f"is mostly a run of neighbouring characters ({HOW_TO_MAKE_ONE})"
    bits = _entropy_bits(token)
    if bits < MIN_ENTROPY_BITS:
        return f"has too few different characters (about {bits:.0f} bits, at least {MIN_ENTROPY_BITS:.0f} needed; {HOW_TO_MAKE_ONE})"
    return None


def _repeats_a_unit(token: str) -> bool:
    """'abcabcabc…': the token occurs inside itself doubled at an offset shorter than itself."""
    return (token + token).find(token, 1) < len(token)


def _mostly_runs(token: str) -> bool:
    """'aaaa', '1234', 'zyxw': two thirds or more of the neighbouring pairs are equal or one apart."""
    steps = sum(1 for a, b in zip(token, token[1:]) if abs(ord(a) - ord(b)) <= 1)
    return steps * 3 >= (len(token) - 1) * 2


def _entropy_bits(token: str) -> float:
    counts = Counter(token)
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) * n
