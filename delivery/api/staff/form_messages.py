"""The messages a clerk reads about a new dispatch's fields — on the new-dispatch form and in a
CSV batch's report — in the page's language.

Every way in is judged by the API's parser (``dispatch_request``), whose messages are English
(the API's problem details). The form and the batch report show them through the message
catalogue: the fixed ones are marked here so that the catalogue carries their Chinese; one that is
not in it (a message with a value in it, such as a length limit) is shown as the parser wrote it.
When the API's problem details move into the catalogue themselves (issue 14, part 1) these
markers belong beside the messages in the parser, and this list goes.
"""

from __future__ import annotations

from delivery.api.http.problems import field_message


def shown(locale: str, errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """``errors`` with each message in ``locale`` where the catalogue has it (with its
    parameters when it has some: :func:`delivery.api.http.problems.field_error`)."""
    return [{**e, "message": field_message(locale, e)} for e in errors]
