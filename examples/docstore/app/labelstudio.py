"""A tiny Label Studio client."""

import os

import requests

LABEL_STUDIO_URL = os.environ.get("LABEL_STUDIO_URL", "http://localhost:8080")
TOKEN = os.environ.get("LABEL_STUDIO_TOKEN", "")


def _headers():
    return {"Authorization": f"Token {TOKEN}"}


def get_project(project_id):
    response = requests.get(f"{LABEL_STUDIO_URL}/api/projects/{project_id}", headers=_headers())
    response.raise_for_status()
    return response.json()


def push_task(project_id, document):
    response = requests.post(
        f"{LABEL_STUDIO_URL}/api/projects/{project_id}/import",
        json=[{"data": document}],
        headers=_headers(),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()
