"""What scheduler.py's commands do: the shared steps, the one-shot commands, status, and the daemon."""
