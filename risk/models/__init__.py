"""Risk-register records."""
