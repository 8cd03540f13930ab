from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("signup/", views.sign_up, name="sign_up"),
    path("login/", views.sign_in, name="sign_in"),
    path("logout/", views.sign_out, name="sign_out"),
    path("profile/", views.profile, name="profile"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/revoke/", views.session_revoke, name="session_revoke"),
    path("sessions/sign-out-others/", views.sign_out_others, name="sign_out_others"),
    path("password/", views.password_change, name="password_change"),
    path("link/", views.link_device, name="link_device"),
    path("link/redeem/", views.link_redeem, name="link_redeem"),
]
