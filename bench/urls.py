"""Mounted at /bench/ only when CHATSITE_BENCH=1 (chatsite/urls.py)."""

from django.urls import path

from bench import floor

app_name = "bench"
urlpatterns = [
    path("floor/", floor.room_page_floor, name="floor"),
]
