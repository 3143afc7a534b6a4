"""Entry points of every program, the application shell they share, the Qube Manager window."""
