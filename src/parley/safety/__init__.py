"""Safety: the cheap machine work that keeps strangers safe (age policy, limits, text)."""
