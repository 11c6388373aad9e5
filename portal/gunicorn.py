"""gunicorn's settings for the portal: `gunicorn -c portal/gunicorn.py portal.wsgi`.

Threads, so that a request waiting on the database or on a worker's K5 listing never holds a
whole process (and `/healthz` answers while others wait); a timeout above the longest any
request may wait on K5 (K5_REQUEST_BUDGET_SECONDS), so gunicorn never kills a worker — and
answers its own HTML error page — for a request that was merely waiting its budget out.
"""

from portal.env import env_float, env_int, env_networks, env_str

bind = env_str("WEB_BIND", "127.0.0.1:8000")
workers = env_int("WEB_WORKERS", 2, minimum=1)
threads = env_int("WEB_THREADS", 8, minimum=1)
worker_class = "gthread"
timeout = int(env_float("K5_REQUEST_BUDGET_SECONDS", 10.0, minimum=0.5)) + 20
graceful_timeout = 30
# WEB_ACCESS_LOG="" turns gunicorn's own access log off (the portal logs each request itself,
# with its request id; deploy/docker-entrypoint.sh does so).
accesslog = env_str("WEB_ACCESS_LOG", "-") or None
# Whose X-Forwarded-Proto (and -Ssl, -Protocol) gunicorn believes, making a request HTTPS
# before Django sees it. gunicorn's own default trusts 127.0.0.1 whatever
# SECURE_PROXY_SSL_HEADER says; here nobody unless named. Behind a TLS proxy, telling Django
# (SECURE_PROXY_SSL_HEADER) is enough: this is only for a set-up that wants gunicorn to decide.
# Not gunicorn's own FORWARDED_ALLOW_IPS variable: this setting replaces whatever it says.
forwarded_allow_ips = env_networks("WEB_FORWARDED_ALLOW_IPS", "")
