"""Pages anyone may open without an account: the recipient's signed link, /verify and /check."""
