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

from templates.i18n import N_, translate

PARSER_MESSAGES = (
    N_("required"),
    N_("unknown field"),
    N_("must be a non-empty string"),
    N_("must be recipient_confirmed or court_found"),
    N_("must be true or false"),
    N_("must be absent when consent is not given"),
    N_("must be zh-CN or en"),
    N_("must be 4 to 40 letters and digits"),
    N_("must be an e-mail address"),
    N_("must be a non-empty array of document ids"),
    N_("must not repeat a document"),
    N_("must be one of express, contract, filing, tacit"),
)


def shown(locale: str, errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """``errors`` with each message in ``locale`` where the catalogue has it."""
    return [{**e, "message": translate(locale, e["message"])} for e in errors]
