"""lipauth: lip-based biometric authentication."""

__version__ = "0.1.0"
