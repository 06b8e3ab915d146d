"""What browsers load from kefu: the widget, the console, their static files, and the
middlewares that make every response safe to load (security headers, CORS)."""
