"""SMS service: the Twilio adapter, status-callback receipts and how they read, the hook, the
stand-in.
"""
