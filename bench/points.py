"""Points per event type for the limit and the peers: enough work to be a "score", no more.

Standard library only: the Quix Streams peer imports it from its own environment.
"""

POINTS = {
    "web.page_view": 1,
    "web.content_download": 15,
    "web.form_submit": 30,
    "email.open": 1,
    "email.click": 3,
    "seminar.registered": 10,
    "seminar.attended": 20,
}
