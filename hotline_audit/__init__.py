"""hotline-audit: audit the internet side of China's 12345 government-service hotlines."""

__version__ = "0.1.0"
