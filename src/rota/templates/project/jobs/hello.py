"""A Python job: a function marked with ``@job``; its parameters come from the signature.

    rota run hello.world --wait
    rota run hello.world -p name=Ada -p times=2 --wait

Every module in jobs/ is loaded by ``rota jobs sync``; a module may hold several jobs.
"""

from __future__ import annotations

from rota import RunContext, job


@job(
    id="hello.world",
    name="Say hello",
    owner="you",
    tags=["example"],
    idempotent=True,  # running it twice does no harm: a lost worker's run is simply re-run
    timeout=60,  # seconds; a run still going then is stopped and fails
    params={"times": {"min": 1, "max": 100, "description": "How many greetings."}},
    # To run it by itself every weekday at 07:00 (in the `timezone` of rota.toml), add `cron`
    # to the import above, remove the `#` below and run `rota jobs sync`:
    # schedule=cron("0 7 * * 1-5"),
)
def hello(ctx: RunContext, name: str = "world", times: int = 3) -> dict[str, object]:
    """Greet someone a few times: one log line and one record result per greeting."""
    for number in range(1, times + 1):
        ctx.log.info("hello, %s (%d of %d)", name, number, times)
        # A record result says what happened to one item of a batch (`rota runs records ID`).
        ctx.record(f"{name}-{number}", "inserted")
        ctx.progress(number, times)
    # The result is any JSON value; `rota runs show ID` prints it.
    return {"greeted": name, "times": times}
