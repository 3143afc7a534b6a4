"""The backend daemon of the suite, and its Admin API client (no Qt here)."""
