import os

from django.urls import include, path

urlpatterns = [
    path("", include("rooms.urls")),
    path("accounts/", include("accounts.urls")),
]
if os.environ.get("CHATSITE_BENCH") == "1":  # the benchmark's floor view; never in production
    urlpatterns.append(path("bench/", include("bench.urls")))

handler400 = "chatsite.errors.bad_request"
handler403 = "chatsite.errors.permission_denied"
handler404 = "chatsite.errors.page_not_found"
handler500 = "chatsite.errors.server_error"
