"""Label Studio accounts as a team has them: each person signs up with the form and works in their own session.

Input: a running Label Studio (its URL). Output: :class:`Member`, one person's logged-in HTTP
session (their own cookies, never the admin's API key), with what their browser would send:
``next_task`` asks the project's labelling stream, ``submit`` does what the editor's Submit does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "Team-Pass-6174"


@dataclass
class Member:
    """One signed-up person: ``email``, ``username``, user ``id`` and their logged-in session."""

    email: str
    id: int
    username: str
    session: httpx.Client

    def next_task(self, project_id: int) -> dict[str, Any] | None:
        """The task Label Studio's stream gives this person next ("Label All Tasks"), or None."""
        answer = self.session.get(f"/api/projects/{project_id}/next")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json()

    def submit(self, project_id: int, task_id: int, result: list[dict[str, Any]], lead_time: float = 3.0) -> int:
        """Submit an annotation as this person; returns its id."""
        answer = self.session.post(f"/api/tasks/{task_id}/annotations/",
                                   json={"result": result, "lead_time": lead_time, "project": project_id})
        assert answer.status_code == 201, (answer.status_code, answer.text[:300])
        return int(answer.json()["id"])

    def close(self) -> None:
        self.session.close()


def sign_up(url: str, email: str, password: str = PASSWORD) -> Member:
    """Sign up with Label Studio's own form (as a new annotator does); the session stays logged in."""
    session = httpx.Client(base_url=url, follow_redirects=True, timeout=60.0)
    page = session.get("/user/signup/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, f"no sign-up form at {url}/user/signup/"
    session.post("/user/signup/", data={"csrfmiddlewaretoken": token.group(1), "email": email,
                                        "password": password, "allow_newsletters": "false"})
    me = session.get("/api/current-user/whoami").json()
    assert me.get("email") == email, me
    session.headers.update({"X-CSRFToken": session.cookies.get("csrftoken") or "", "Referer": url})
    return Member(email=email, id=int(me["id"]), username=str(me.get("username") or ""), session=session)
