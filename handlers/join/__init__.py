"""Sign-up form building blocks: provinces, phone numbers, names, QR codes, reports."""
