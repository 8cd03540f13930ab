from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rooms import selectors


def room_list(request: HttpRequest) -> HttpResponse:
    return render(request, "rooms/room_list.html", {"rooms": selectors.room_list()})
