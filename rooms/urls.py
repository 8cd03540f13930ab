from django.urls import path

from rooms import views

app_name = "rooms"
urlpatterns = [
    path("", views.room_list, name="list"),
]
