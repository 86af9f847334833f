"""The songda command line: run, web, worker, db, keys, secrets, report, verify, config."""
