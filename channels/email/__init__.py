"""E-mail service: the SMTP adapter, bounce receipts and the bounce processor's hook."""
