"""Email: tickets answered by mail (outbound through an outbox, SMTP) and mail posted in
by an inbound mail service turned into tickets and comments (CONTRACT.md "Email")."""
