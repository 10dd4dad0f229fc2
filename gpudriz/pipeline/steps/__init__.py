"""MultiDrizzle's steps, one module each, with the algorithms they use."""
