"""The admin pages of the github_data app."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_admin_index_names_the_webhook_deliveries(admin_client: Client) -> None:
    """The delivery model is listed as "Webhook deliveries" (not Django's
    default plural, "Webhook deliverys")."""
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    assert ">Webhook deliveries<" in page
    assert "deliverys" not in page
