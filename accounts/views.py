"""Account pages. Each view parses the form, calls one service or selector, and renders."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import known_devices, selectors, services
from accounts.auth import sign_in_required
from accounts.forms import DeviceLinkRedeemForm, PasswordChangeForm, ProfileForm, SignInForm, SignUpForm
from accounts.middleware import JUST_LINKED_COOKIE, JUST_LINKED_SECONDS
from accounts.request_info import client_ip
from accounts.session_keys import is_child_key


def _safe_next(request: HttpRequest) -> str:
    """``next`` if it is a path on this site ("/..."), else "". Relative text such as "0" or "home"
    is refused too: redirect() would try it as a URL pattern name (NoReverseMatch, a 500)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return candidate
    return ""


def _after_sign_in(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(_safe_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return _after_sign_in(request)
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            record = services.sign_up(request=request, ip=client_ip(request, network=True),
                                      username=data["username"], display_name=data["display_name"],
                                      password=data["password1"])
        except services.Throttled as throttled:
            form.add_error(None, str(throttled))
            status = 429
        except services.UsernameTaken:
            form.add_error("username", "That username is taken. Names that differ only in capitals or "
                                       "accents count as the same.")
        else:
            response = _after_sign_in(request)
            known_devices.remember(response, request, record.user_id)
            return response
    return render(request, "accounts/sign_up.html", {"form": form, "next": _safe_next(request)}, status=status)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return _after_sign_in(request)
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        try:
            record = services.sign_in(request=request, ip=client_ip(request, network=True), username=username,
                                      password=form.cleaned_data["password"],
                                      device=known_devices.device_for(request, username))
        except services.Throttled as throttled:
            form.add_error(None, str(throttled))
            status = 429
        except services.InvalidCredentials as invalid:
            form.add_error(None, str(invalid))
        else:
            response = _after_sign_in(request)
            known_devices.remember(response, request, record.user_id)
            return response
    return render(request, "accounts/sign_in.html", {"form": form, "next": _safe_next(request)}, status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    services.sign_out(request=request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@sign_in_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(request.POST or None, initial={"display_name": user.display_name})
    if request.method == "POST" and form.is_valid():
        services.display_name_update(request=request, display_name=form.cleaned_data["display_name"])
        messages.success(request, "Display name saved.")
        return redirect("accounts:profile")
    # The recent messages come from rooms, through its template tags (rooms builds on accounts).
    return render(request, "accounts/profile.html", {
        "form": form,
        "last_login": selectors.last_login_time(user_id=user.id, current_session_key=request.session.session_key),
    })


@sign_in_required
@never_cache
@require_GET
def sessions(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/sessions.html", {
        "sessions": selectors.user_sessions(user_id=request.user.id,
                                            current_session_key=request.session.session_key),
        # A linked device's "everywhere else" spares the session it was linked from (services).
        "linked_device": is_child_key(request.session.session_key or ""),
    })


@sign_in_required
@require_POST
def session_revoke(request: HttpRequest) -> HttpResponse:
    if services.session_revoke(request=request, ref=request.POST.get("session", "")):
        if not request.user.is_authenticated:  # it was this device
            return redirect(settings.LOGOUT_REDIRECT_URL)
        messages.success(request, "Signed out that device.")
    else:
        messages.info(request, "That session had already ended.")
    return redirect("accounts:sessions")


@sign_in_required
@require_POST
def sign_out_others(request: HttpRequest) -> HttpResponse:
    ended = services.sign_out_everywhere_else(request=request)
    messages.success(request, f"Signed out {ended} other session{'s' if ended != 1 else ''}.")
    return redirect("accounts:sessions")


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@sign_in_required
@never_cache
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(request=request, old_password=form.cleaned_data["old_password"],
                                     new_password=form.cleaned_data["new_password1"])
        except services.Throttled as throttled:
            form.add_error(None, str(throttled))
            status = 429
        except services.InvalidCredentials as invalid:
            form.add_error("old_password", str(invalid))
        else:
            messages.success(request, "Password changed. Your other sessions have been signed out.")
            return redirect("accounts:sessions")
    return render(request, "accounts/password_change.html", {"form": form}, status=status)


@sign_in_required
@never_cache
@require_http_methods(["GET", "POST"])
def link_device(request: HttpRequest) -> HttpResponse:
    """GET explains; POST makes a code and shows it once (it is never stored, so never redirect)."""
    context = {}
    if request.method == "POST":
        try:
            link = services.device_link_create(request=request)
        except services.DeviceLinkInvalid as refused:
            context = {"refused": str(refused)}
        else:
            context = {
                "code": link.code,
                "expires_at": link.expires_at,
                "link": request.build_absolute_uri(f"{reverse('accounts:link_redeem')}?code={link.code}"),
            }
    return render(request, "accounts/link_device.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def link_redeem(request: HttpRequest) -> HttpResponse:
    """The other browser: GET shows the code (prefilled from the link), POST spends it. A GET never
    spends it, so link previews and prefetchers cannot use up the code."""
    if request.user.is_authenticated:
        return render(request, "accounts/link_redeem.html", {"already_signed_in": True})
    form = DeviceLinkRedeemForm(request.POST or None, initial={"code": request.GET.get("code", "")[:20]})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.device_link_redeem(request=request, ip=client_ip(request, network=True),
                                        code=form.cleaned_data["code"])
        except services.Throttled as throttled:
            form.add_error("code", str(throttled))
            status = 429
        except services.DeviceLinkInvalid as invalid:
            form.add_error("code", str(invalid))
        else:
            messages.success(request, "This device is now signed in.")
            response = redirect(settings.LOGIN_REDIRECT_URL)
            response.set_signed_cookie(JUST_LINKED_COOKIE, "1", salt=JUST_LINKED_COOKIE, max_age=JUST_LINKED_SECONDS,
                                       httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
            return response
    return render(request, "accounts/link_redeem.html", {"form": form}, status=status)
