"""The 400 page shows people a plain message, never Django's developer text; the detail stays in
the log. Messages our own code raises for people (BadRequest) are still shown."""

from __future__ import annotations

import logging

from django.test import Client


def test_a_disallowed_host_gets_a_plain_400_and_the_detail_is_logged(caplog):
    with caplog.at_level(logging.INFO):
        response = Client().get("/", HTTP_HOST="evil.com")
    assert response.status_code == 400
    body = response.content.decode()
    assert "ALLOWED_HOSTS" not in body and "evil.com" not in body
    assert "The request could not be understood." in body
    assert any("evil.com" in record.getMessage() and "ALLOWED_HOSTS" in record.getMessage()
               for record in caplog.records)


def test_too_many_fields_is_a_plain_400(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = Client().get("/?" + "&".join(f"f{n}=1" for n in range(10)))
    assert response.status_code == 400
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" not in response.content.decode()


def test_messages_meant_for_people_are_still_shown(moto_tables):
    response = Client().get("/?after=not-a-cursor")
    assert response.status_code == 400
    assert "That page link is broken or out of date." in response.content.decode()
