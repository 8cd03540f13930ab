from django.urls import path, register_converter

from rooms import views
from rooms.validators import ROOM_ID_MAX_LENGTH


class RoomIdConverter:
    # A slug no longer than a room id can be: anything longer is a plain 404 from the resolver,
    # never a key DynamoDB would reject (2 KB) or a wasted lookup. The lookahead bounds the length.
    regex = rf"(?=[a-z0-9-]{{1,{ROOM_ID_MAX_LENGTH}}}(?![a-z0-9-]))[a-z0-9]+(?:-[a-z0-9]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RoomIdConverter, "room_id")

app_name = "rooms"
urlpatterns = [
    path("", views.room_list, name="list"),
    path("rooms/<room_id:room_id>/", views.room_detail, name="room"),
    path("rooms/<room_id:room_id>/messages", views.message_post, name="post"),
    path("rooms/<room_id:room_id>/threads/<str:message_id>/", views.thread_detail, name="thread"),
    path("rooms/<room_id:room_id>/messages/delete", views.message_delete, name="delete"),
    path("rooms/<room_id:room_id>/messages/react", views.message_react, name="react"),
    path("rooms/<room_id:room_id>/messages/edit", views.message_edit, name="edit_message"),
    path("rooms/<room_id:room_id>/messages/history", views.message_history, name="message_history"),
    path("rooms/<room_id:room_id>/read", views.room_read, name="read"),
    path("rooms/<room_id:room_id>/unread", views.room_unread, name="unread"),
    path("rooms/read-all", views.rooms_read_all, name="read_all"),
    path("live/", views.user_stream, name="user_stream"),
    path("rooms/<room_id:room_id>/notifications", views.room_notifications, name="notifications"),
    path("rooms/<room_id:room_id>/updates", views.room_updates, name="updates"),
    path("rooms/<room_id:room_id>/stream", views.room_stream, name="stream"),
    path("rooms/<room_id:room_id>/updates/grant", views.room_live_grant, name="live_grant"),
    path("rooms/<room_id:room_id>/presence", views.room_presence, name="presence"),
    path("rooms/<room_id:room_id>/typing", views.room_typing, name="typing"),
    path("rooms/<room_id:room_id>/join", views.room_join, name="join"),
    path("rooms/<room_id:room_id>/leave", views.room_leave, name="leave"),
    path("rooms/<room_id:room_id>/invite", views.room_invite, name="invite"),
    path("rooms/<room_id:room_id>/members/", views.room_members, name="members"),
    path("rooms/<room_id:room_id>/members/remove", views.member_remove, name="remove_member"),
    path("rooms/<room_id:room_id>/members/suggest", views.member_suggest, name="member_suggest"),
    path("rooms/<room_id:room_id>/settings", views.room_edit, name="edit"),
    path("direct/new/", views.direct_new, name="direct_new"),
    path("u/<str:username>/", views.user_page, name="user"),
    path("mentions/", views.mentions_page, name="mentions"),
    path("search/", views.search_page, name="search"),
]
