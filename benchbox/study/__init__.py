"""A benchmark study: a protocol TOML run stage by stage into leaderboards and a report.

Imports flow one way, top to bottom:

* ``protocol``  - the protocol config, the plan (train jobs, stages), fingerprints, the ledger;
* ``estimate``  - the plan's cost on this machine (``run --dry-run``);
* ``analysis``  - the original study's questions answered from score tables (pure functions);
* ``report``    - ``report.md`` / ``report.html`` from the scores, analysis and figures;
* ``stages``    - one runner per stage kind (data, train, generate, score, leaderboard, report);
* ``runner``    - :func:`run_protocol`: walks the plan, skips unchanged stages, records the ledger.

Nothing outside this package imports from it except the CLI (``benchbox run``).
"""
