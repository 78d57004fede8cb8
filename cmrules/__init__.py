"""cmrules: the questions to ask before outsourcing community management, as rules on CRM data."""

__version__ = "0.1.0"
