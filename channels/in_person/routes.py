"""What service in person adds to the web app: the field server's task list and visit form."""

from __future__ import annotations

from aiohttp import web

from channels.in_person import pages


def add_routes(app: web.Application) -> None:
    app.router.add_get("/field", pages.task_list)
    app.router.add_get("/field/tasks/{task_id}", pages.task_page)
    app.router.add_post("/field/tasks/{task_id}", pages.record)
